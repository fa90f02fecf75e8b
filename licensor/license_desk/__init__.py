"""The license desk (docs/license-desk.md): desk licenses and their notes, license files
(`licensefile`) and their email (`mail`), cloud activation and seat links (`cloud_*`).
A desk license is not a license key (docs/architecture.md, glossary)."""

from licensor.cli.main import app

app()

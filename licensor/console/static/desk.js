// Progressive enhancement for a license's page: while an email is queued or sending, the
// "Email deliveries" section reloads itself every two seconds (the page has a Refresh
// link without this file).
(() => {
  const poll = () => {
    const section = document.getElementById("deliveries");
    const url = section && section.dataset.poll;
    if (!url) {
      return;
    }
    window.setTimeout(async () => {
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (response.ok) {
          const page = new DOMParser().parseFromString(await response.text(), "text/html");
          const fresh = page.getElementById("deliveries");
          if (fresh) {
            section.replaceWith(document.adoptNode(fresh));
          }
        }
      } finally {
        poll();
      }
    }, 2000);
  };
  poll();
})();

// Progressive enhancement for the license form ("Add new License", "Duplicate license"):
// the required-field marks follow the `License type` select at once. The form's
// data-required holds, for every type it offers, each field staff must fill and its mark,
// as the server computed them from the desk's rules; this only applies them. Without this
// file the "Show required fields" button asks the server for the chosen type's marks.
(() => {
  const form = document.querySelector("form[data-required]");
  const select = form && form.elements.namedItem("license_type");
  if (!(select instanceof HTMLSelectElement)) {
    return;
  }
  const marks = JSON.parse(form.dataset.required);
  const apply = () => {
    const wanted = marks[select.value] || {};
    for (const mark of form.querySelectorAll("[data-mark-for]")) {
      const name = mark.dataset.markFor;
      const text = wanted[name] || "";
      mark.textContent = text;
      mark.hidden = !text;
      const control = form.elements.namedItem(name);
      if (control instanceof HTMLElement && "required" in control) {
        control.required = Boolean(text);
        if (text) {
          control.setAttribute("aria-required", "true");
        } else {
          control.removeAttribute("aria-required");
        }
      }
    }
  };
  for (const button of form.querySelectorAll("[data-without-script]")) {
    button.hidden = true;
  }
  select.addEventListener("change", apply);
  apply();
})();

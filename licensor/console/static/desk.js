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

// Progressive enhancement only: every page works without this file.
// A button with data-confirm asks before its form is sent.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = button && button.dataset ? button.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

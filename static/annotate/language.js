// The language switcher (templates/base.html) sends itself when a language is picked; without this
// script its button does the same. A file, not an inline handler: the page's CSP allows none.
document.addEventListener("change", (event) => {
  const select = event.target.closest(".lang-switch select");
  if (select) select.form.requestSubmit();
});
for (const button of document.querySelectorAll(".lang-switch [type=submit]")) button.hidden = true;

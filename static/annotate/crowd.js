// The crowd finish page: a form that hands the participant back to their platform (MTurk's
// externalSubmit) is sent at once; its button stays for a browser without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-autosubmit]");
  if (form) form.submit();
});

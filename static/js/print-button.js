// The 打印 (print) buttons of the printable letters: hidden until this script runs, so a page
// without JavaScript shows no dead button. A static file, not an inline script: the
// Content-Security-Policy allows scripts from this site only (issue 13).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
});

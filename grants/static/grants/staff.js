// Staff pages' small behaviours, as a static file (the Content-Security-Policy allows no
// inline script or on* attribute).
//
// A checkbox with data-check-all="NAME" ticks or clears every checkbox named NAME.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.dataset.checkAll) return;
  document.querySelectorAll('input[type="checkbox"][name="' + box.dataset.checkAll + '"]').forEach(function (other) {
    other.checked = box.checked;
  });
});

// A form sent back with errors: the focus moves to its error summary (#error-summary,
// tabindex="-1") on load.
(function () {
  function focusErrorSummary() {
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusErrorSummary);
  } else {
    focusErrorSummary();
  }
})();

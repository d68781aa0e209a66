// The applicant portal's small behaviours, as a static file (the Content-Security-Policy
// allows no inline script or on* attribute).
//
// A form sent back with errors: the focus moves to its error summary (#error-summary,
// tabindex="-1"), so a screen reader reads it first and the keyboard starts there; also
// when htmx swaps in content holding it.
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
  // Only when the swapped content holds the summary (a live budget total must not steal
  // the focus from the field being typed in).
  document.addEventListener("htmx:afterSettle", function (event) {
    var swapped = event.detail && event.detail.elt;
    if (swapped && (swapped.id === "error-summary" || swapped.querySelector("#error-summary"))) focusErrorSummary();
  });
})();

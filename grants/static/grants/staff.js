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

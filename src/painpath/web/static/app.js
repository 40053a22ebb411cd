// painpath web app: links to a form field (#field-<path>) open its topic and focus its first control.
(function () {
  "use strict";
  function reveal(id, focus) {
    var target = document.getElementById(id);
    if (!target) { return false; }
    for (var node = target.parentElement; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") { node.open = true; }
    }
    var control = target.matches("input, select, textarea") ? target
      : (target.querySelector("input:checked") || target.querySelector("input, select, textarea"));
    target.scrollIntoView({block: "center"});
    if (focus && control) { control.focus({preventScroll: true}); }
    return true;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest('a[href^="#field-"]') : null;
    if (!link) { return; }
    if (reveal(decodeURIComponent(link.getAttribute("href").slice(1)), true)) {
      event.preventDefault();
      history.replaceState(null, "", link.getAttribute("href"));
    }
  });
  if (location.hash.indexOf("#field-") === 0) {
    document.addEventListener("DOMContentLoaded", function () { reveal(decodeURIComponent(location.hash.slice(1)), true); });
  }
}());
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var button = document.getElementById("print-letter");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
});

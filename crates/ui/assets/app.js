// mamori UI: progressive enhancement only; every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Forms that change state ask once before sending (data-confirm="…").
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
  // After a POST-redirect, move keyboard focus to the status message.
  var s = document.querySelector(".notice[data-focus]");
  if (s) { s.setAttribute("tabindex", "-1"); s.focus(); }
});

// Liner Notes widget loader: <script src="https://LINER/api/v1/widget.js" data-target="#onboarding"></script>
// puts the onboarding chat in an iframe inside the target (or where the script stands), sized to the host's
// width, and re-dispatches the visitor's profile on the target as a "liner-notes:profile" DOM event.
(function () {
  "use strict";
  var script = document.currentScript;
  var api = script.src.replace(/\/widget\.js(\?.*)?$/, "");
  var target = (script.dataset.target && document.querySelector(script.dataset.target)) || script.parentNode;
  var frame = document.createElement("iframe");
  frame.src = api + "/widget?origin=" + encodeURIComponent(window.location.origin);
  frame.title = "Liner Notes: tell us what you like";
  frame.style.cssText = "display:block;width:100%;min-height:360px;border:0;";
  target.appendChild(frame);
  var widgetOrigin = new URL(frame.src).origin;
  window.addEventListener("message", function (event) {
    // Only the widget's own frame speaks for it.
    if (event.origin !== widgetOrigin || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (data.type === "liner-notes:resize") {
      frame.style.height = Math.ceil(data.height) + "px";
    } else if (data.type === "liner-notes:profile") {
      target.dispatchEvent(new CustomEvent("liner-notes:profile", {detail: data, bubbles: true}));
    }
  });
})();

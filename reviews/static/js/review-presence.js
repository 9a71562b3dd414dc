/* Flowsite item page: what the page's socket says about others (#presence, pushed by
 * reviews/consumers.py ReviewConsumer). While someone else holds the claim, or once the item
 * is answered, the answer form's buttons are disabled, so nobody submits into a 409; they come
 * back when the claim is released. The server refuses such an answer anyway.
 */
(function () {
  "use strict";

  function sync() {
    var presence = document.getElementById("presence");
    if (!presence) return;
    var blocked = presence.hasAttribute("data-held-by") || presence.hasAttribute("data-decided");
    document.querySelectorAll("#answer-card button[type=submit]").forEach(function (button) {
      if (blocked && !button.disabled) {
        button.disabled = true;
        button.dataset.heldDisabled = "1";
      } else if (!blocked && button.dataset.heldDisabled) {
        button.disabled = false;
        delete button.dataset.heldDisabled;
      }
    });
  }

  document.addEventListener("htmx:afterSettle", sync);
  document.addEventListener("htmx:oobAfterSwap", sync);
  document.addEventListener("htmx:wsAfterMessage", sync);
  document.addEventListener("DOMContentLoaded", sync);
})();

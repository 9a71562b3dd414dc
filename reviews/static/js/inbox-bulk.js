/* Flowsite inbox: the bulk answer's selection (the form #bulk-form; its checkboxes sit in the
 * items, form="bulk-form").
 *
 * - Says how many items are ticked, of which workflow, and disables the buttons when none
 *   are, or when they are of several workflows (the server refuses that too).
 * - Keeps the ticks when the list is re-rendered live (WebSocket) or by its filters (htmx).
 * - Sends the inbox's current URL (its filters) as "next", to come back to after the answer.
 * Without a script the form posts the same fields.
 */
(function () {
  "use strict";

  var ticked = new Set();

  function form() { return document.querySelector("[data-bulk-form]"); }
  function boxes() { return Array.prototype.slice.call(document.querySelectorAll("input.bulk-pick")); }

  function update() {
    var bulk = form();
    if (!bulk) return;
    var chosen = boxes().filter(function (box) { return box.checked; });
    var titles = Array.from(new Set(chosen.map(function (box) { return box.dataset.workflowTitle; })));
    var count = bulk.querySelector("[data-bulk-count]");
    var mixed = titles.length > 1;
    if (!chosen.length) count.textContent = "Tick items of one workflow to give them one decision.";
    else if (mixed) count.textContent = chosen.length + " selected, of " + titles.length + " workflows (" + titles.join(", ") + "): choose items of one workflow.";
    else count.textContent = chosen.length + " selected (" + titles[0] + ")";
    count.classList.toggle("bulk-count-mixed", mixed);
    bulk.classList.toggle("bulk-bar-active", chosen.length > 0 && !mixed);
    bulk.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = !chosen.length || mixed;
    });
  }

  function restore() {
    boxes().forEach(function (box) { if (ticked.has(box.value)) box.checked = true; });
    update();
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.classList.contains("bulk-pick")) return;
    if (box.checked) ticked.add(box.value); else ticked.delete(box.value);
    update();
  });

  document.addEventListener("submit", function (event) {
    if (event.target !== form()) return;
    event.target.querySelector("input[name=next]").value = window.location.pathname + window.location.search;
  });

  document.addEventListener("htmx:afterSettle", restore);
  document.addEventListener("htmx:oobAfterSwap", restore);
  document.addEventListener("DOMContentLoaded", function () {
    boxes().forEach(function (box) { if (box.checked) ticked.add(box.value); });
    update();
  });
})();

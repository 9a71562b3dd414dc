/* Flowsite review keys: the inbox and an item's page cleared from the keyboard.
 *
 *   j / k    next / previous item (the inbox's selection; on an item, the neighbouring item)
 *   Enter    open the selected item (inbox)
 *   x        tick the selected item for a bulk answer (inbox)
 *   a / r    approve / reject: presses the page's own Approve / Reject button, so the answer
 *            is the same form POST as a click (CSRF, validation, audit); it also asks the
 *            server for the next waiting item (then=next) instead of the thread page
 *   e        edit: the first field of the answer (an agent's tool call: choose Edit)
 *   c        claim (or extend one's claim)
 *   ?        the list of keys (a <dialog>)
 *
 * Keys never act while the focus is in a field (input, textarea, select, contenteditable),
 * with Ctrl, Alt or Meta held, or while the keys dialog is open. Everything here is an
 * enhancement: without a script the same links and buttons work. The page says which keys
 * apply with [data-review-keys] ("inbox" or "item"); items of the inbox carry
 * [data-review-item] and [data-href]; answer buttons [data-key].
 */
(function () {
  "use strict";

  var FIELDS = "input, textarea, select, [contenteditable]:not([contenteditable='false'])";
  var selectedId = null; // the inbox's selection survives live re-renders of the list

  function root() { return document.querySelector("[data-review-keys]"); }

  function typing(target) {
    return target instanceof Element && (target.closest(FIELDS) !== null || target.isContentEditable);
  }

  function dialog() { return document.getElementById("review-keys-dialog"); }

  function showKeys() {
    var box = dialog();
    if (box && !box.open) box.showModal();
  }

  // -- the inbox ---------------------------------------------------------------------------
  function items() { return Array.prototype.slice.call(document.querySelectorAll("[data-review-item]")); }

  function select(item) {
    items().forEach(function (other) {
      other.classList.remove("is-selected");
      other.removeAttribute("aria-current");
    });
    if (!item) { selectedId = null; return; }
    selectedId = item.id;
    item.classList.add("is-selected");
    item.setAttribute("aria-current", "true");
    item.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
  }

  function selected() { return selectedId ? document.getElementById(selectedId) : null; }

  function move(step) {
    var list = items();
    if (!list.length) return;
    var at = list.indexOf(selected());
    var next = at < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, at + step));
    select(list[next]);
  }

  function open(item) {
    if (item && item.dataset.href) window.location.assign(item.dataset.href);
  }

  function restoreSelection() {
    var item = selected();
    if (item) {
      item.classList.add("is-selected");
      item.setAttribute("aria-current", "true");
    }
  }

  function inboxKey(key, event) {
    if (key === "j") move(1);
    else if (key === "k") move(-1);
    else if (key === "Enter" || key === "o") {
      var item = selected();
      // Enter on a focused link or button keeps its own meaning.
      if (!item || (event.target.closest("a, button") && !event.target.matches("[data-review-item]"))) return false;
      open(item);
    } else if (key === "x") {
      // Tick the selected item for a bulk answer.
      var box = selected() && selected().querySelector("input.bulk-pick");
      if (!box) return false;
      box.click();
      selected().focus({ preventScroll: true });
    } else if (key === "a" || key === "r" || key === "e" || key === "c") {
      // An answer needs the item's page (its form, its claim); open the selection.
      if (!selected()) return false;
      open(selected());
    } else return false;
    return true;
  }

  // -- an item's page ------------------------------------------------------------------------
  function press(button, then) {
    if (!button || button.disabled) return false;
    var form = button.form;
    if (form && then) {
      var marker = form.querySelector("input[name=then]");
      if (!marker) {
        marker = document.createElement("input");
        marker.type = "hidden";
        marker.name = "then";
        form.appendChild(marker);
      }
      marker.value = then;
    }
    button.click();
    return true;
  }

  function decideAll(kind) {
    // An agent request: the same decision on every tool call that allows it, then send.
    var form = document.querySelector("[data-agent-form]");
    if (!form) return false;
    var chosen = 0;
    form.querySelectorAll("[data-action]").forEach(function (action) {
      var radio = action.querySelector("input[type=radio][value='" + kind + "']");
      if (radio) { radio.checked = true; radio.dispatchEvent(new Event("change", { bubbles: true })); chosen += 1; }
    });
    if (!chosen) return false;
    return press(form.querySelector("button[type=submit]"), "next");
  }

  function answer(kind) {
    var key = kind === "approve" ? "a" : "r";
    return press(document.querySelector("#answer-card button[data-key='" + key + "']"), "next") || decideAll(kind);
  }

  function edit() {
    var card = document.getElementById("answer-card");
    if (!card) return false;
    var radio = card.querySelector("[data-action] input[type=radio][value='edit']");
    if (radio) {
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
    }
    var scope = radio ? radio.closest("[data-action]") : card;
    var field = Array.prototype.find.call(
      scope.querySelectorAll("form " + "input:not([type=hidden]):not([type=radio]), form textarea, form select"),
      function (f) { return !f.disabled && f.offsetParent !== null; }
    );
    if (!field) return false;
    field.focus();
    return true;
  }

  function claim() {
    var form = document.querySelector("#claim-bar form[action$='/claim/']");
    return form ? press(form.querySelector("button[type=submit]")) : false;
  }

  function go(url) {
    if (!url) return false;
    window.location.assign(url);
    return true;
  }

  function itemKey(key, place) {
    if (key === "j") return go(place.dataset.nextUrl);
    if (key === "k") return go(place.dataset.previousUrl);
    if (key === "a") return answer("approve");
    if (key === "r") return answer("reject");
    if (key === "e") return edit();
    if (key === "c") return claim();
    return false;
  }

  document.addEventListener("keydown", function (event) {
    var place = root();
    if (!place || event.defaultPrevented || event.isComposing) return;
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    var box = dialog();
    if (box && box.open) return; // the dialog has the keyboard (Escape closes it)
    var key = event.key;
    if (typing(event.target)) {
      // Esc leaves a text field, so the keys work again (a select keeps its own Esc).
      if (key === "Escape" && !event.target.matches("select")) event.target.blur();
      return;
    }
    var done;
    if (key === "?") { showKeys(); done = true; }
    else if (place.dataset.reviewKeys === "inbox") done = inboxKey(key, event);
    else done = itemKey(key, place);
    if (done) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-show-keys]")) showKeys();
    var item = event.target.closest("[data-review-item]");
    if (item && !event.target.closest("a, button, input, label")) select(item);
  });

  // The inbox's list is re-rendered live (WebSocket) and by its filters (htmx).
  document.addEventListener("htmx:afterSettle", restoreSelection);
  document.addEventListener("htmx:oobAfterSwap", restoreSelection);
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-show-keys]").forEach(function (button) { button.hidden = false; });
  });
})();

/* Flowsite answer forms: what only a script can do on a page that works without one.
 *
 * - A tagged union's branch choice shows that branch's fields (the server validates only it).
 * - An array's "Add" clones its item template, "Remove" drops an item (the server reads the
 *   items from the posted "<name>[]" markers).
 * - An agent action's Edit panel lists the changes against the proposal as fields change
 *   (fields carry data-proposed), so the reviewer sees the diff before sending it.
 *
 * Event delegation on the document: it keeps working after htmx swaps the form.
 */
(function () {
  "use strict";

  function currentText(field) {
    var input = field.querySelector("input, textarea, select");
    if (!input) return null;
    if (input.type === "checkbox") return input.checked ? "true" : "false";
    if (input.type === "radio") {
      var checked = field.querySelector("input:checked");
      return checked ? checked.value : "";
    }
    if (input.multiple) {
      return JSON.stringify(Array.prototype.map.call(input.selectedOptions, function (o) { return o.value; }));
    }
    return input.value;
  }

  function same(proposed, now, field) {
    if (proposed === now) return true;
    var input = field.querySelector("input, textarea");
    if (input && (input.type === "number" || input.classList.contains("mono"))) {
      try { return JSON.stringify(JSON.parse(proposed)) === JSON.stringify(JSON.parse(now)); }
      catch (e) { return false; }
    }
    return false;
  }

  function updateDiff(action) {
    var panel = action.querySelector(".panel-edit");
    if (!panel) return;
    var list = panel.querySelector("[data-diff-list]");
    var none = panel.querySelector("[data-no-changes]");
    list.textContent = "";
    var count = 0;
    panel.querySelectorAll(".edit-fields [data-proposed]").forEach(function (field) {
      if (field.closest("[hidden], template")) return;
      var proposed = field.dataset.proposed;
      var now = currentText(field);
      if (now === null || same(proposed, now, field)) return;
      count += 1;
      var item = document.createElement("li");
      var where = document.createElement("span");
      where.className = "diff-where";
      where.textContent = field.dataset.arg;
      var del = document.createElement("del");
      del.textContent = proposed === "" ? "(empty)" : proposed;
      var ins = document.createElement("ins");
      ins.textContent = now === "" ? "(empty)" : now;
      var arrow = document.createElement("span");
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = " → ";
      item.append(where, del, arrow, ins);
      list.appendChild(item);
    });
    panel.querySelectorAll(".edit-fields [data-item]").forEach(function (item) {
      if (item.closest("template") || item.querySelector("[data-proposed]")) return;
      count += 1;
      var li = document.createElement("li");
      var tag = document.createElement("span");
      tag.className = "diff-tag";
      tag.textContent = "added";
      var ins = document.createElement("ins");
      ins.textContent = Array.prototype.map.call(item.querySelectorAll("input:not([type=hidden]), textarea, select"), function (i) { return i.value; }).join(", ") || "(empty)";
      li.append(tag, ins);
      list.appendChild(li);
    });
    none.hidden = count > 0;
    panel.querySelector("[data-diff]").classList.toggle("has-changes", count > 0);
  }

  function updateAll(root) {
    (root || document).querySelectorAll("[data-action]").forEach(updateDiff);
  }

  function onChange(event) {
    var target = event.target;
    var choice = target.closest("[data-branch-choice]");
    if (choice && target.type === "radio") {
      var union = choice.closest("[data-union]");
      union.querySelectorAll(":scope > [data-branch]").forEach(function (branch) {
        branch.hidden = branch.dataset.branch !== target.value;
      });
    }
    var action = target.closest("[data-action]");
    if (action) updateDiff(action);
  }

  document.addEventListener("input", onChange);
  document.addEventListener("change", onChange);

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add]");
    if (add) {
      var array = add.closest("[data-array]");
      var name = array.dataset.array;
      var items = array.querySelector(":scope > [data-items]");
      var next = 0;
      items.querySelectorAll(":scope > [data-item] > input[type=hidden]").forEach(function (marker) {
        next = Math.max(next, parseInt(marker.value, 10) + 1);
      });
      var template = array.querySelector(":scope > template[data-template]");
      var html = template.innerHTML.split(name + ".__index__").join(name + "." + next)
        .replace('value="__index__"', 'value="' + next + '"');
      items.insertAdjacentHTML("beforeend", html);
      var added = items.lastElementChild;
      var first = added && added.querySelector("input:not([type=hidden]), textarea, select");
      if (first) first.focus();
      var action = array.closest("[data-action]");
      if (action) updateDiff(action);
      return;
    }
    var remove = event.target.closest("[data-remove]");
    if (remove) {
      var owner = remove.closest("[data-action]");
      remove.closest("[data-item]").remove();
      if (owner) updateDiff(owner);
    }
  });

  document.addEventListener("DOMContentLoaded", function () { updateAll(); });
  document.addEventListener("htmx:afterSettle", function (event) { updateAll(event.target); });
})();

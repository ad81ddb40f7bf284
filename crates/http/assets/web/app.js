// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  var zh = (document.documentElement.lang || "zh").indexOf("zh") === 0;

  // Search filters: submit as soon as a select is changed with the pointer. Arrow keys also fire
  // "change", so a keyboard change waits for the submit button instead of reloading mid-choice.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var lastKey = 0;
    select.addEventListener("keydown", function () { lastKey = Date.now(); });
    select.addEventListener("change", function () {
      if (select.form && Date.now() - lastKey > 800) { select.form.submit(); }
    });
  });

  // Long multi-selects (regions, industries) get a filter box: typing hides non-matching options.
  document.querySelectorAll("select[data-filterable]").forEach(function (select) {
    var input = document.createElement("input");
    input.type = "search";
    input.className = "filter-input";
    input.setAttribute("aria-label", (zh ? "筛选选项：" : "Filter options: ") + (select.labels && select.labels[0] ? select.labels[0].textContent : ""));
    input.placeholder = zh ? "输入文字筛选…" : "Type to filter…";
    input.setAttribute("aria-controls", select.id);
    select.parentNode.insertBefore(input, select);
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(select.options, function (option) {
        var show = !needle || option.selected || option.textContent.toLowerCase().indexOf(needle) >= 0 || option.value.toLowerCase().indexOf(needle) === 0;
        option.hidden = !show;
      });
    });
    // Ctrl/Cmd is not needed: a plain click toggles one option and keeps the others.
    select.addEventListener("mousedown", function (event) {
      var option = event.target;
      if (option && option.tagName === "OPTION" && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
        event.preventDefault();
        option.selected = !option.selected;
        select.dispatchEvent(new Event("change", { bubbles: true }));
        select.focus();
      }
    });
  });

  // After a failed submit, move focus to the error summary so screen readers announce it.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();

// Keyboard shortcuts on a rubric form (the review page and the calibration form), on the focused criterion:
// J / K move to the next / previous criterion, M marks it Met and moves on, N marks it Not Yet and moves into
// its comment box (or on, where there is none), Esc leaves a comment box for its criterion. Nothing fires while
// typing in a text box, or with Ctrl, Alt or Meta held. Without JavaScript the form works the same by mouse,
// touch and Tab; the hint that documents the keys stays hidden.
"use strict";
const form = document.querySelector("form[data-shortcuts]");
if (form && form.querySelector("fieldset.criterion")) {
  const criteria = [...form.querySelectorAll("fieldset.criterion")];
  const hint = document.getElementById("shortcut-hint");
  if (hint) {
    hint.hidden = false;
  }
  let last = null;
  const criterionOf = (element) => criteria.find((fieldset) => fieldset.contains(element)) || null;
  form.addEventListener("focusin", (event) => {
    last = criterionOf(event.target) || last;
  });
  const focusCriterion = (fieldset) => {
    const radio = fieldset.querySelector("input[type=radio]:checked") || fieldset.querySelector("input[type=radio]");
    radio.focus();
    fieldset.scrollIntoView({ block: "nearest" });
  };
  const typing = (element) =>
    element instanceof HTMLTextAreaElement ||
    element instanceof HTMLSelectElement ||
    (element instanceof HTMLInputElement && !["radio", "checkbox", "submit", "button"].includes(element.type)) ||
    (element instanceof HTMLElement && element.isContentEditable);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented) {
      return;
    }
    const target = event.target;
    if (typing(target)) {
      const fieldset = target instanceof HTMLTextAreaElement ? criterionOf(target) : null;
      if (event.key === "Escape" && fieldset) {
        event.preventDefault();
        focusCriterion(fieldset);
      }
      return;
    }
    const key = event.key.toLowerCase();
    const current = criterionOf(document.activeElement) || last;
    const index = current ? criteria.indexOf(current) : -1;
    if (key === "j" || key === "k") {
      event.preventDefault();
      const next = key === "j" ? Math.min(index + 1, criteria.length - 1) : Math.max(index - 1, 0);
      focusCriterion(criteria[next]);
    } else if ((key === "m" || key === "n") && current) {
      event.preventDefault();
      const radio = current.querySelector(`input[type=radio][value=${key === "m" ? "met" : "not_yet"}]`);
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      const comment = current.querySelector("textarea");
      if (key === "n" && comment) {
        comment.focus();
      } else if (index + 1 < criteria.length) {
        focusCriterion(criteria[index + 1]);
      } else {
        radio.focus();
      }
    }
  });
}

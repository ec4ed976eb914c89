// Live word counts on the draft page: each answer's count updates as the applicant types.
// The server shows the same count without JavaScript; words are counted as the pre-assessor counts them
// (credflow.validation.rules.WORD: a letter or digit, then letters, digits, underscores, apostrophes, hyphens).
(function () {
  "use strict";
  var WORD = /[\p{L}\p{N}\p{M}][\p{L}\p{N}\p{M}_'\u2019-]*/gu;

  function count(text) {
    var found = text.match(WORD);
    return found ? found.length : 0;
  }

  function label(words, min, max) {
    var text = words + (words === 1 ? " word" : " words");
    if (min !== null && max !== null) return text + " (" + min + " to " + max + ")";
    if (min !== null) return text + " (at least " + min + ")";
    if (max !== null) return text + " (at most " + max + ")";
    return text;
  }

  function limit(value) {
    return value === undefined || value === "" ? null : parseInt(value, 10);
  }

  document.querySelectorAll("textarea[data-word-count]").forEach(function (area) {
    var shown = document.getElementById(area.getAttribute("data-word-count"));
    var spoken = document.getElementById(area.getAttribute("data-word-count") + "-live");
    if (!shown) return;
    var min = limit(area.dataset.minWords);
    var max = limit(area.dataset.maxWords);
    var timer = null;
    function update() {
      var words = count(area.value);
      shown.textContent = label(words, min, max);
      shown.classList.toggle("over", (max !== null && words > max) || (min !== null && words < min));
      if (spoken) {
        // Screen readers hear the count once typing pauses, not at every key.
        clearTimeout(timer);
        timer = setTimeout(function () { spoken.textContent = shown.textContent; }, 1200);
      }
    }
    area.addEventListener("input", update);
    update();
  });
})();

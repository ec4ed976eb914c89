// "Copy share link": each button copies the read-only link field it names (navigator.clipboard) and says so.
// Without JavaScript the buttons stay hidden and the field can be selected and copied by hand.
"use strict";
for (const button of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  const said = document.getElementById(button.dataset.said);
  if (!field || !said || !navigator.clipboard) {
    continue;
  }
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(field.value);
      said.textContent = "Link copied.";
    } catch {
      field.select();
      said.textContent = "Could not copy: the link is selected, copy it with your keyboard.";
    }
  });
}

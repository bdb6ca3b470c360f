// The controls under the player's own grid while placing: one button per ship (the one held is
// pressed, placed ones dimmed; a click holds it, or picks it up off the board), Rotate, Random
// fleet, Ready, and a line saying what to do. The buttons carry data-action; the input
// handles their clicks along with the board's.

import { shipName } from "./board.js";

function button(text, action, className = "") {
  const b = Object.assign(document.createElement("button"), { type: "button", className });
  b.textContent = text;
  b.dataset.action = action;
  return b;
}

export class PlacementTools {
  /** Builds the controls into `container` (the renderer's slot under my grid). */
  constructor(container) {
    this.root = Object.assign(document.createElement("div"), { className: "bs-tools" });
    this.picks = Object.assign(document.createElement("div"), { className: "bs-picks" });
    this.picks.setAttribute("role", "group");
    this.picks.setAttribute("aria-label", "Ships to place");
    this.buttons = Object.assign(document.createElement("div"), { className: "bs-actions" });
    this.rotate = button("Rotate (R)", "rotate");
    this.random = button("Random fleet", "random");
    this.ready = button("Ready", "ready", "primary");
    this.buttons.append(this.rotate, this.random, this.ready);
    this.hint = Object.assign(document.createElement("p"), { className: "bs-hint muted" });
    this.hint.setAttribute("aria-live", "polite");
    this.root.append(this.picks, this.buttons, this.hint);
    this.root.hidden = true;
    container.append(this.root);
  }

  destroy() {
    this.root.remove();
  }

  /** One button per ship of `fleet` (its lengths). */
  showFleet(fleet) {
    this.fleet = fleet.slice();
    this.picks.replaceChildren(
      ...fleet.map((length, index) => {
        const pick = button("", "pick", "bs-pick");
        pick.dataset.index = String(index);
        const name = Object.assign(document.createElement("span"), {
          textContent: shipName(fleet, index),
        });
        const hull = Object.assign(document.createElement("span"), { className: "bs-hull" });
        for (let k = 0; k < length; k++) hull.append(document.createElement("i"));
        pick.append(name, hull);
        pick.setAttribute("aria-label", `${shipName(fleet, index)}, length ${length}`);
        return pick;
      }),
    );
  }

  /**
   * shown: the placing phase, for a player; placing: my fleet is not out yet; draft: per ship,
   * placed or null; held: the ship being placed (or null); dir: "h" or "v"; sending: the
   * fleet is on its way; waitingFor: the other player's name.
   */
  draw({ shown, placing, draft, held, dir, sending, waitingFor }) {
    this.root.hidden = !shown;
    if (!shown) return;
    this.picks.hidden = this.buttons.hidden = !placing;
    for (const pick of this.picks.children) {
      const i = Number(pick.dataset.index);
      pick.classList.toggle("placed", Boolean(draft[i]));
      pick.setAttribute("aria-pressed", String(i === held));
    }
    const complete = draft.length > 0 && draft.every(Boolean);
    this.ready.disabled = !complete || sending;
    this.ready.textContent = sending ? "Sending…" : "Ready";
    this.rotate.textContent = `Rotate (R): ${dir === "h" ? "across" : "down"}`;
    this.random.disabled = this.rotate.disabled = sending;
    let hint;
    if (!placing) hint = `Your fleet is ready. Waiting for ${waitingFor}…`;
    else if (held !== null) {
      const what = `${shipName(this.fleet, held)} (${this.fleet[held]})`;
      hint = `Place your ${what}: click or tap your grid. A placed ship can be picked up again.`;
    } else hint = "All ships placed: press Ready, or click a ship to move it.";
    if (this.hint.textContent !== hint) this.hint.textContent = hint;
  }
}

// The settings of a new match, built from the chosen game's entry in GET /api/games: the seat
// count within its range, one field per option (a number with its bounds, a checkbox, a
// list of choices), and whether bots fill the empty seats. What was set for a game is kept
// while the page lives, so switching games back and forth loses nothing.

/** A setting that cannot be sent as it is; `field` is the control to fix. */
export class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.name = "FieldError";
    this.field = field;
  }
}

let ids = 0; // the controls' ids: unique on the page, whatever the options are called

function field(label, control, className = "field") {
  const box = Object.assign(document.createElement("div"), { className });
  control.id = `match-setting-${++ids}`;
  const text = Object.assign(document.createElement("label"), { htmlFor: control.id });
  text.textContent = label;
  box.append(text, control);
  return box;
}

/** A checkbox with its label beside it; the whole row is the touch target. */
function check(label, checked) {
  const input = Object.assign(document.createElement("input"), { type: "checkbox", checked });
  const row = Object.assign(document.createElement("label"), { className: "check" });
  row.append(input, document.createTextNode(label));
  return { row, input };
}

function select(values, chosen) {
  const list = document.createElement("select");
  list.append(...values.map((v) => new Option(String(v), String(v), false, v === chosen)));
  return list;
}

function numberInput({ min, max, value }) {
  const input = Object.assign(document.createElement("input"), {
    type: "number",
    min: String(min),
    max: String(max),
    step: "1",
    value: String(value),
    inputMode: "numeric",
  });
  input.addEventListener("input", () => input.removeAttribute("aria-invalid"));
  return input;
}

export class MatchForm {
  /** root: where the fields go; title: the heading that names the game. */
  constructor(root, title) {
    this.root = root;
    this.title = title;
    this.game = null;
    this.controls = null; // {seats, options: [[option, control]], bots}
    this._kept = new Map(); // game name -> the values last set for it
  }

  /** Show the settings of `game` (an entry of catalog.normalizeGames). */
  show(game) {
    if (this.game) this._kept.set(this.game.name, this._raw());
    this.game = game;
    const kept = this._kept.get(game.name) || {};
    this.title.textContent = `New ${game.title} match`;
    const fields = [];
    const controls = { seats: null, options: [], bots: null };
    if (game.min_seats !== undefined) {
      const seats = [];
      for (let n = game.min_seats; n <= game.max_seats; n++) seats.push(n);
      const chosen = kept.seats ?? game.default_seats ?? game.min_seats;
      controls.seats = select(seats, seats.includes(chosen) ? chosen : seats[0]);
      fields.push(field("Seats", controls.seats));
    }
    for (const option of game.options) {
      const value = kept.options?.[option.name] ?? option.default;
      let control;
      if (option.type === "bool") {
        const { row, input } = check(option.label, value === true);
        fields.push(row);
        control = input;
      } else {
        control =
          option.type === "int" ? numberInput({ ...option, value }) : select(option.choices, value);
        fields.push(field(option.label, control));
      }
      controls.options.push([option, control]);
    }
    if (game.bots) {
      const { row, input } = check("Fill empty seats with bots", kept.bots ?? true);
      controls.bots = input;
      fields.push(row);
    }
    this.controls = controls;
    this.root.replaceChildren(...fields);
  }

  /**
   * The fields of POST /api/matches for these settings: {seats?, options?, bot_fill?}, or
   * FieldError. `options` only for a game that has some, `bot_fill` only when turned off, so
   * a server that takes neither is sent neither.
   */
  values() {
    const { seats, options, bots } = this.controls;
    const body = {};
    if (seats) body.seats = Number(seats.value);
    if (options.length) {
      body.options = {};
      for (const [option, control] of options) body.options[option.name] = read(option, control);
    }
    if (bots && !bots.checked) body.bot_fill = false;
    return body;
  }

  /** What the controls say now, unchecked, to show again later. */
  _raw() {
    const { seats, options, bots } = this.controls;
    const raw = { options: {} };
    if (seats) raw.seats = Number(seats.value);
    for (const [option, control] of options) {
      raw.options[option.name] = option.type === "bool" ? control.checked : control.value;
    }
    if (bots) raw.bots = bots.checked;
    return raw;
  }
}

function read(option, control) {
  if (option.type === "bool") return control.checked;
  if (option.type === "choice") return control.value;
  const { label, min, max } = option;
  const value = Number(control.value);
  if (control.value.trim() === "" || !Number.isInteger(value)) {
    throw invalid(control, `${label}: type a whole number from ${min} to ${max}.`);
  }
  if (value < min || value > max) {
    throw invalid(control, `${label}: ${value} is out of range; pick ${min} to ${max}.`);
  }
  return value;
}

function invalid(control, message) {
  control.setAttribute("aria-invalid", "true");
  return new FieldError(control, message);
}

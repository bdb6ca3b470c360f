// A chat panel: the lines of one room (the lobby, or a match) in the order of their ids, a
// box to say one, and the server's refusals shown under it. Text only: every line is set with
// textContent, so markup in a message is shown as typed, never run.

const MAX_CHARS = 200; // the server's limit (docs/PROTOCOL.md, "Chat")
const KEPT = 100; // lines kept on screen

// What a refusal means for the person typing (the server's message says the rest).
const REFUSALS = {
  chat_too_long: `Messages are at most ${MAX_CHARS} characters.`,
  chat_rate_limited: "Slow down: that message was not sent.",
  muted: "The staff muted you: your messages are not shown.",
  no_player: "Pick a name and play once to chat here.",
  chat_closed: "This match's chat is for its players.",
  banned: "This account may not chat.",
};

export class ChatPanel {
  /** root: an element holding `.chat-lines`, a form with an input, and `.chat-status`. */
  constructor(root, { onSay }) {
    this.root = root;
    this.list = root.querySelector(".chat-lines");
    this.form = root.querySelector("form");
    this.input = root.querySelector("input");
    this.status = root.querySelector(".chat-status");
    this.readOnly = root.querySelector(".chat-readonly");
    this.onSay = onSay;
    this.source = null;
    this.input.maxLength = MAX_CHARS;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      if (this.onSay(text) === false) return this.say("Not connected: try again in a moment.");
      this.input.value = "";
      this.say("");
    });
  }

  /**
   * Show the chat of a connection (a GameSocket, a WatchStream, the LobbyFeed): its `chat`,
   * `chat_deleted` and refusals, from now on (a reconnect keeps the lines shown so far).
   * `writable`: false for a stream, which cannot send.
   */
  follow(source, writable = true) {
    this.source = source;
    this.form.hidden = !writable;
    if (this.readOnly) this.readOnly.hidden = writable;
    const mine = (handler) => (event) => this.source === source && handler(event.detail);
    source.addEventListener("chat", mine((line) => this.add(line)));
    source.addEventListener("chat_deleted", mine((gone) => this.remove(gone.id)));
    source.addEventListener("error", mine((error) => this.refused(error)));
  }

  clear() {
    this.list.replaceChildren();
    this.say("");
  }

  /** Lines from a history, then each new one; kept in id order whatever order they came in. */
  add(line) {
    if (this.list.querySelector(`[data-id="${Number(line.id)}"]`)) return;
    const item = document.createElement("li");
    item.dataset.id = String(Number(line.id));
    const who = document.createElement("strong");
    who.textContent = line.spectator ? `${line.name} (watching)` : line.name;
    const text = document.createElement("span");
    text.textContent = line.text;
    item.append(who, ": ", text);
    const later = [...this.list.children].find((li) => Number(li.dataset.id) > line.id);
    this.list.insertBefore(item, later || null);
    while (this.list.children.length > KEPT) this.list.firstElementChild.remove();
    this.list.scrollTop = this.list.scrollHeight;
  }

  remove(id) {
    this.list.querySelector(`[data-id="${Number(id)}"]`)?.remove();
  }

  /** A refusal from the server, if it is about chat; true when it was. */
  refused(error) {
    const shown = REFUSALS[error.code];
    if (!shown && error.code !== "chat_empty" && error.code !== "unavailable") return false;
    this.say(shown || error.message);
    return true;
  }

  say(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }
}

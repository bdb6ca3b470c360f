// Finds the browser client of a game: the module static/js/games/<name>/index.js, loaded the
// first time a match of that game is played or watched (games/README.md says what it holds).

const SAFE_NAME = /^[a-z0-9_]+$/;
const REQUIRED = ["createModel", "createRenderer", "describe", "players"];
const STYLE_WAIT_MS = 3000; // a stylesheet that does not load must not keep the match away

const loaded = new Map(); // name -> Promise of the module's default export
const styles = new Set();

/** The game has no usable client here; the message says so to the person. */
export class NoClientError extends Error {
  constructor(title) {
    super(`${title} has no browser client yet, so this page cannot show its matches.`);
    this.name = "NoClientError";
  }
}

/** Whether `name` can be a game's folder: only these characters ever reach import(). */
export function isGameName(name) {
  return typeof name === "string" && SAFE_NAME.test(name);
}

/**
 * The client of game `name` (cached), or NoClientError naming it by `title`. A failed load is
 * not cached, so a later try (another click) fetches the module again.
 */
export async function loadGame(name, title = name) {
  if (!isGameName(name)) throw new NoClientError(String(title || "This game"));
  if (!loaded.has(name)) loaded.set(name, importClient(name));
  try {
    return await loaded.get(name);
  } catch (e) {
    loaded.delete(name);
    console.warn(`gameserver: no browser client for ${name}:`, e);
    throw new NoClientError(title);
  }
}

async function importClient(name) {
  const game = (await import(`./games/${name}/index.js`)).default;
  if (!game || game.name !== name) throw new Error(`its module's default export is not "${name}"`);
  const missing = REQUIRED.filter((key) => typeof game[key] !== "function");
  if (missing.length) throw new Error(`its module lacks ${missing.join(", ")}`);
  if (game.stylesheet) await addStylesheet(String(game.stylesheet));
  return game;
}

/** Add the game's stylesheet once, and wait until it applies, so nothing shows unstyled. */
function addStylesheet(href) {
  if (styles.has(href)) return Promise.resolve();
  styles.add(href);
  const link = Object.assign(document.createElement("link"), { rel: "stylesheet", href });
  return new Promise((resolve) => {
    link.addEventListener("load", resolve);
    link.addEventListener("error", () => {
      console.warn(`gameserver: the stylesheet ${href} did not load`);
      resolve();
    });
    setTimeout(resolve, STYLE_WAIT_MS);
    document.head.append(link);
  });
}

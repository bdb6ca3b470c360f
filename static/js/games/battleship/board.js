// Battleship's geometry, ported from games/rules/battleship/board.py: a ship's cells, whether a
// fleet fits, and a random fleet. A ship is [x, y, dir, length]: its first cell (x to the
// right, y downwards), "h" going right or "v" going down. The client checks a placement with
// these before sending it, so the server's refusals are for clients that do not.

export const DIRECTIONS = { h: [1, 0], v: [0, 1] };

// The classic names, for the classic fleet (5, 4, 3, 3, 2); another fleet gets numbers.
const CLASSIC = [5, 4, 3, 3, 2];
const CLASSIC_NAMES = ["Carrier", "Battleship", "Cruiser", "Submarine", "Destroyer"];

/** What to call ship `index` of `fleet` (a list of lengths) on screen. */
export function shipName(fleet, index) {
  const classic = fleet.length === CLASSIC.length && fleet.every((n, i) => n === CLASSIC[i]);
  return classic ? CLASSIC_NAMES[index] : `Ship ${index + 1}`;
}

/** The cells a ship covers, from its first cell on: [[x, y], ...]. */
export function shipCells([x, y, dir, length]) {
  const [dx, dy] = DIRECTIONS[dir];
  const cells = [];
  for (let k = 0; k < length; k++) cells.push([x + dx * k, y + dy * k]);
  return cells;
}

export function onBoard(x, y, size) {
  return x >= 0 && y >= 0 && x < size && y < size;
}

/** Whether two ships are the same ship ([x, y, dir, length] each). */
export function sameShip(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Why `ships` cannot lie on a size×size board, in the server's words; null if they can.
 * Ships are numbered from 1 in the order given; they may touch but not share a cell.
 */
export function fleetProblem(ships, size) {
  const owner = new Map();
  for (const [index, ship] of ships.entries()) {
    const number = index + 1;
    const cells = shipCells(ship);
    if (!cells.every(([x, y]) => onBoard(x, y, size))) {
      return `ship ${number} (length ${ship[3]}) runs off the ${size}×${size} board`;
    }
    for (const [x, y] of cells) {
      const key = `${x},${y}`;
      if (owner.has(key)) return `ships ${owner.get(key)} and ${number} overlap at (${x}, ${y})`;
      owner.set(key, number);
    }
  }
  return null;
}

/**
 * Where a ship of `length` going `dir` lies when it is put down at (x, y): from that cell on,
 * moved back just enough to stay on the board, so a tap near the edge still places it.
 */
export function shipAt(x, y, dir, length, size) {
  const [dx, dy] = DIRECTIONS[dir];
  const fit = (v, d) => Math.max(0, Math.min(v, size - (d ? length : 1)));
  return [fit(x, dx), fit(y, dy), dir, length];
}

/** A legal fleet for `lengths` on a size×size board, each ship drawn from the places left. */
export function randomFleet(lengths, size, random = Math.random) {
  const taken = new Set();
  const fleet = [];
  for (const length of lengths) {
    const places = [];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (const dir of Object.keys(DIRECTIONS)) {
          const ship = [x, y, dir, length];
          const cells = shipCells(ship);
          const free = cells.every(([cx, cy]) => onBoard(cx, cy, size) && !taken.has(`${cx},${cy}`));
          if (free) places.push(ship);
        }
      }
    }
    const ship = places[Math.floor(random() * places.length)];
    for (const [cx, cy] of shipCells(ship)) taken.add(`${cx},${cy}`);
    fleet.push(ship);
  }
  return fleet;
}

// The theatre's seats: categories and prices, seats sold in this browser, and the seat map.
// The map is one tab stop (a roving tabindex): arrow keys, Home and End move between seats;
// Space or Enter picks. Each seat's name is its visible number with the row, category and
// price around it as text for screen readers only.
import { el, money } from "./common.js";

export const ROWS = ["A", "B", "C", "D", "E", "F"];
const PER_ROW = 10;
export const MAX_SEATS = 6;
const CATEGORIES = [
  { id: "front", name: "Front stalls", rows: ["A", "B"], price: 4800 },
  { id: "stalls", name: "Stalls", rows: ["C", "D"], price: 3600 },
  { id: "rear", name: "Rear stalls", rows: ["E", "F"], price: 2400 },
];
const TAKEN = new Set(["A4", "A5", "B8", "C1", "C2", "D5", "D6", "E9", "F1", "F2", "F3"]);
const SOLD_KEY = "paylive.demo.sold.v1";

export function category(seat) {
  return CATEGORIES.find((c) => c.rows.includes(seat[0]));
}

export function total(seats) {
  return seats.reduce((sum, seat) => sum + category(seat).price, 0);
}

export function seatOrder(a, b) {
  return a[0] === b[0] ? Number(a.slice(1)) - Number(b.slice(1)) : a.localeCompare(b);
}

function sold() {
  try {
    return new Set(JSON.parse(window.localStorage.getItem(SOLD_KEY) || "[]"));
  } catch {
    return new Set();
  }
}

export function markSold(seats) {
  const all = sold();
  seats.forEach((s) => all.add(s));
  window.localStorage.setItem(SOLD_KEY, JSON.stringify([...all]));
}

// Taken by others, or sold in this browser.
export function unavailable() {
  return new Set([...TAKEN, ...sold()]);
}

export class SeatMap {
  // onToggle(seat): the customer picked or dropped a seat
  constructor(map, legend, { onToggle }) {
    this.map = map;
    this.legend = legend;
    this.onToggle = onToggle;
    this.focusSeat = "A1";
  }

  render(chosen, locked) {
    const taken = unavailable();
    const hadFocus = this.map.contains(document.activeElement);
    this.map.replaceChildren(
      ...ROWS.map((row) =>
        el("div", { class: `row c-${category(row + "1").id}` },
          el("span", { class: "row-label", "aria-hidden": "true", text: row }),
          ...Array.from({ length: PER_ROW }, (_, i) => {
            const seat = `${row}${i + 1}`;
            const mine = chosen.includes(seat);
            return this.button(seat, i, mine, taken.has(seat) && !mine, locked);
          }),
          el("span", { class: "row-label", "aria-hidden": "true", text: row }))),
    );
    if (hadFocus) this.map.querySelector(`[data-seat="${this.focusSeat}"]`).focus();
    this.legend.replaceChildren(
      ...CATEGORIES.map((c) =>
        el("li", { class: `c-${c.id}` }, el("span", { class: "swatch" }), `${c.name} ${money(c.price)}`)),
      el("li", { class: "taken" }, el("span", { class: "swatch" }), "Taken"),
      el("li", { class: "chosen" }, el("span", { class: "swatch" }), "Yours"),
    );
  }

  button(seat, i, chosen, taken, locked) {
    const cat = category(seat);
    return el("button", {
      type: "button",
      class: `seat${chosen ? " chosen" : ""}${taken ? " taken" : ""}${i === 4 ? " aisle" : ""}`,
      "data-seat": seat,
      "data-testid": `seat-${seat}`,
      "aria-pressed": String(chosen),
      "aria-disabled": taken || locked ? "true" : null,
      tabindex: seat === this.focusSeat ? "0" : "-1",
      onclick: () => this.onToggle(seat),
      onkeydown: (event) => this.move(event, seat),
      onfocus: () => { this.focusSeat = seat; },
    },
    el("span", { class: "sr-only", text: `Row ${seat[0]} seat ` }),
    String(i + 1),
    el("span", { class: "sr-only", text: `(${cat.name}, ${money(cat.price)}${taken ? ", taken" : ""})` }));
  }

  move(event, seat) {
    const row = ROWS.indexOf(seat[0]);
    const col = Number(seat.slice(1)) - 1;
    const moves = {
      ArrowLeft: [row, col - 1], ArrowRight: [row, col + 1],
      ArrowUp: [row - 1, col], ArrowDown: [row + 1, col],
      Home: [row, 0], End: [row, PER_ROW - 1],
    };
    const to = moves[event.key];
    if (!to) return;
    event.preventDefault();
    const r = Math.max(0, Math.min(ROWS.length - 1, to[0]));
    const c = Math.max(0, Math.min(PER_ROW - 1, to[1]));
    this.focusSeat = `${ROWS[r]}${c + 1}`;
    for (const button of this.map.querySelectorAll("[data-seat]")) {
      button.tabIndex = button.dataset.seat === this.focusSeat ? 0 : -1;
    }
    this.map.querySelector(`[data-seat="${this.focusSeat}"]`).focus();
  }
}

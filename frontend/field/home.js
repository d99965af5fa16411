// Home: the worker's grids and the open cases in them, by light.
import { casePins, gridMap } from "./map.js";

export function startHome(element) {
  const map = gridMap(element);
  casePins(map, JSON.parse(document.getElementById("case-pins").textContent));
}

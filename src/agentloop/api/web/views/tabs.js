// An accessible tab set (WAI-ARIA tabs pattern): arrow keys, Home and End move between tabs.

import { h } from "../dom.js";

/** tabs: [{id, label, panel: Node}]; onSelect(id) after a tab is shown. */
export function createTabs(tabs, onSelect = () => {}) {
  const buttons = tabs.map((tab) =>
    h("button", {
      type: "button",
      role: "tab",
      id: `tab-${tab.id}`,
      "aria-controls": `panel-${tab.id}`,
      dataset: { tab: tab.id },
    }, tab.label),
  );
  const panels = tabs.map((tab) =>
    h("div", { role: "tabpanel", id: `panel-${tab.id}`, "aria-labelledby": `tab-${tab.id}`, class: "tabpanel" }, tab.panel),
  );
  const list = h("div", { role: "tablist", class: "tabs", "aria-label": "Run details" }, buttons);

  function select(index, focus = false) {
    buttons.forEach((button, i) => {
      const on = i === index;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
      panels[i].hidden = !on;
    });
    if (focus) buttons[index].focus();
    onSelect(tabs[index].id);
  }

  buttons.forEach((button, index) => {
    button.addEventListener("click", () => select(index));
    button.addEventListener("keydown", (event) => {
      const last = buttons.length - 1;
      const next = { ArrowRight: index === last ? 0 : index + 1, ArrowLeft: index === 0 ? last : index - 1, Home: 0, End: last }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      select(next, true);
    });
  });

  return { node: h("div", { class: "tabset" }, list, panels), select: (id) => select(tabs.findIndex((t) => t.id === id)) };
}

// SPDX-License-Identifier: MIT
// Light and dark themes: 'auto' follows the system's prefers-color-scheme; 'light' and
// 'dark' are the viewer's choice (app.css holds the colours of each).

export function applyTheme(mode) {
  const root = document.documentElement;
  if (mode === 'light' || mode === 'dark') root.dataset.theme = mode;
  else delete root.dataset.theme;
}

// The theme in effect now: 'light' or 'dark'.
export function currentTheme() {
  const t = document.documentElement.dataset.theme;
  if (t === 'light' || t === 'dark') return t;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

const NEXT = { auto: 'dark', dark: 'light', light: 'auto' };
const LABEL = { auto: 'Theme: auto', dark: 'Theme: dark', light: 'Theme: light' };

// A button that cycles auto -> dark -> light; onChange(mode) is called with the new mode.
// Also calls onChange when the system theme changes while in auto mode.
export function themeButton(doc, mode, onChange) {
  const b = doc.createElement('button');
  b.type = 'button';
  b.className = 'theme-toggle';
  b.id = 'theme-toggle';
  let cur = mode;
  const label = () => {
    b.textContent = '◐';
    b.title = (LABEL[cur] || LABEL.auto) + ' (click to change)';
    b.setAttribute('aria-label', b.title);
    b.dataset.mode = cur;
  };
  label();
  b.addEventListener('click', () => { cur = NEXT[cur] || 'auto'; label(); onChange(cur); });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { if (cur === 'auto') onChange('auto', true); });
  return b;
}

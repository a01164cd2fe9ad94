// SPDX-License-Identifier: MIT
// The DOM helper: elements built with DOM calls and textContent, never from HTML strings.
// The only HTML the viewer inserts is what the server rendered from markdown with cmark-gfm
// in safe mode (setHtml below says where).

// h('div', { class: 'card', text: 'hi', onclick: fn, 'data-tag': t }, ...children)
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}

export const SVGNS = 'http://www.w3.org/2000/svg';

// The same for SVG elements.
export function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
}

// Markdown the server rendered with cmark-gfm in safe mode (descriptions, text summaries).
export function setHtml(el, serverHtml) {
  el.innerHTML = serverHtml || '';
}

// A case-insensitive RegExp from user text: null for empty text, undefined when invalid.
export function safeRegex(s) {
  if (!s) return null;
  try { return new RegExp(s, 'i'); } catch (e) { return undefined; }
}

// The value of a CSS custom property on the document (theme colours for canvases).
export function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

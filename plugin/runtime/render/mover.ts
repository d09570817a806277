/**
 * The browser side of out-of-order streaming: one small script, defined once
 * per page right after the page's own content, that moves each directive's
 * HTML from the `<template>` it arrived in into the slot held for it.
 *
 * Scripts inside a `<template>` never run, and moving them into the page
 * would not run them either (the parser marked them); cloning them would run
 * them out of order, external ones whenever they load. So the mover takes
 * every script out first and, once the HTML is in place, runs a fresh copy
 * of each one that carries the page's nonce — in document order, each
 * external one loaded before the next — exactly the scripts the page's CSP
 * would have run had the HTML been parsed in place. A script without the
 * nonce, or not an HTML script, is dropped: under `'strict-dynamic'` a script
 * added by a trusted script runs without a nonce, so the mover must never
 * add one the policy would have refused. It builds no markup from strings:
 * the nodes are the parser's, only the scripts' text and attributes are copied.
 *
 * Moves happen one at a time, in the order the HTML arrived, so scripts of
 * two directives run in that order too.
 */
import { escapeHtml, jsStringLiteral } from '../encode.ts'

/** The global the page's move calls go through (set by the definition, which then removes itself). */
const MOVE = '__etaEmbedsMove'

// Plain ES5-era DOM, so it runs wherever the page's own markup does.
const DEFINITION = `(function () {
  'use strict';
  var own = document.currentScript;
  var nonce = own.nonce;
  var HTML = 'http://www.w3.org/1999/xhtml';
  var queue = Promise.resolve();
  function runs(script) {
    var type = script.type.toLowerCase();
    return !script.noModule && (type === '' || type === 'module' || /^(text|application)\\/(java|ecma)script$/.test(type));
  }
  function run(old, spot) {
    return new Promise(function (done) {
      var script = document.createElement('script');
      for (var i = 0; i < old.attributes.length; i++) {
        var name = old.attributes[i].name;
        if (name !== 'nonce') script.setAttribute(name, old.attributes[i].value);
      }
      script.nonce = nonce;
      script.text = old.text;
      var waits = script.hasAttribute('src') && runs(script);
      if (waits) {
        script.async = false;
        script.onload = script.onerror = function () { done(); };
      }
      spot.replaceWith(script);
      if (!waits) done();
    });
  }
  function move(key) {
    var slot = document.getElementById('eta-embeds-' + key);
    var template = document.getElementById('eta-embeds-' + key + '-html');
    if (!slot || !(template instanceof HTMLTemplateElement)) return undefined;
    var content = template.content;
    template.remove();
    var scripts = [];
    content.querySelectorAll('script').forEach(function (old) {
      if (old.namespaceURI === HTML && (old.nonce || old.getAttribute('nonce')) === nonce) {
        var spot = document.createComment('');
        old.replaceWith(spot);
        scripts.push([old, spot]);
      } else {
        old.remove();
      }
    });
    slot.replaceChildren(content);
    return scripts.reduce(function (before, pair) {
      return before.then(function () { return run(pair[0], pair[1]); });
    }, Promise.resolve());
  }
  self.${MOVE} = function (key) {
    var call = document.currentScript;
    if (call) call.remove();
    queue = queue.then(function () { return move(key); }).catch(function () {});
  };
  own.remove();
})();`
  // Sent without its indentation: readable here, a few hundred bytes lighter on every page.
  .replace(/^\s+/gm, '')

/** The mover, defined once per page that has slots, right after the page's own content. */
export function moverDefinition(nonce: string): string {
  return `<script nonce="${escapeHtml(nonce)}">${DEFINITION}</script>`
}

/** A directive's slot id: the render's random id and the directive's index, so page data cannot pose as one. */
export function slotKey(id: string, index: number): string {
  return `${id}-${index}`
}

/**
 * The placeholder where a directive stands until its HTML arrives: the room
 * its embed will take (none when it takes none) and, for a browser that runs
 * no script, its fallback — the HTML that arrives later is never shown there.
 */
export function slot(key: string, height: number | undefined, fallback: string): string {
  const style = height === undefined ? 'display:contents' : `display:block;min-height:${height}px`
  const noscript = fallback ? `<noscript>${fallback}</noscript>` : ''
  return `<eta-embeds-slot id="eta-embeds-${key}" style="${style}">${noscript}</eta-embeds-slot>`
}

/** A settled directive's HTML, inert in a `<template>`, and the call that moves it into its slot. */
export function moved(key: string, html: string, nonce: string): string {
  return (
    `<template id="eta-embeds-${key}-html">${html}</template>` +
    `<script nonce="${escapeHtml(nonce)}">${MOVE}(${jsStringLiteral(key)})</script>`
  )
}

/**
 * The Widget SDK script the Returning.AI Access Key Embed stub serves: the `<rai-…-widget>` custom
 * elements, which validate their embed token at the stub and show who is signed in.
 */

/** Where the SDK validates an embed token, relative to the V2 API base URL. */
export const VALIDATE_PATH = '/v2/api/widget-access-keys/validate'

/**
 * Browser code, kept as plain source text; `apiUrl` is where it validates unless an element says
 * otherwise. ASSUMPTIONS where SPEC is silent: the shadow root is open (the vendor's is closed) so
 * tests can read it; attributes are read once, when the element connects; `bundle-url` only switches
 * to light-DOM rendering and is never fetched. CSP-friendly: no eval, no markup from strings, styles
 * only through the CSSOM, text only through `textContent`.
 */
export function sdkScript(apiUrl: string): string {
  return `(function () {
  'use strict';
  var API_URL = ${JSON.stringify(apiUrl)};
  var VALIDATE_PATH = ${JSON.stringify(VALIDATE_PATH)};
  var TYPES = {
    'rai-store-widget': 'store',
    'rai-channel-widget': 'channel',
    'rai-milestone-widget': 'milestone',
    'rai-social-widget': 'social',
    'rai-currency-widget': 'currency'
  };
  var THEMES = {
    light: { background: '#ffffff', color: '#1b1d21' },
    dark: { background: '#16181d', color: '#f1f2f4' }
  };

  function cssHeight(value) {
    if (value && /^[0-9]{1,5}$/.test(value)) return value + 'px';
    if (value && /^[0-9]{1,5}(px|%|vh|rem|em)$/.test(value)) return value;
    return '600px';
  }

  function validateUrl(value) {
    try {
      var url = new URL(value || API_URL);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
      return url.origin + url.pathname.replace(/\\/+$/, '') + VALIDATE_PATH;
    } catch (error) {
      return null;
    }
  }

  function render(host, type) {
    var root = host.hasAttribute('bundle-url') ? host : host.attachShadow({ mode: 'open' });
    var theme = THEMES[host.getAttribute('theme') === 'dark' ? 'dark' : 'light'];
    var box = document.createElement('div');
    box.className = 'rai-widget';
    box.style.boxSizing = 'border-box';
    box.style.height = cssHeight(host.getAttribute('height'));
    box.style.padding = '16px';
    box.style.font = '16px/1.4 system-ui, sans-serif';
    box.style.background = theme.background;
    box.style.color = theme.color;
    var title = document.createElement('h2');
    title.textContent = 'Returning.AI ' + type + ' widget';
    var status = document.createElement('p');
    status.className = 'rai-widget-status';
    status.setAttribute('part', 'widget-status');
    status.setAttribute('role', 'status');
    status.textContent = 'Loading…';
    box.appendChild(title);
    box.appendChild(status);
    root.appendChild(box);
    return status;
  }

  function start(host, type) {
    var status = render(host, type);
    function fail() {
      status.textContent = 'Widget unavailable';
    }
    var communityId = host.getAttribute('community-id');
    var token = host.getAttribute('embed-token');
    var url = validateUrl(host.getAttribute('v2-api-url'));
    if (!communityId || !token || !url || (type === 'channel' && !host.getAttribute('channel-id'))) return fail();
    // The token travels only in this body: never in a URL, never with cookies, never as a Referer.
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ embedToken: token, communityId: communityId }),
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      cache: 'no-store'
    })
      .then(function (res) {
        if (res.status !== 200) throw new Error('validate answered ' + res.status);
        return res.json();
      })
      .then(function (body) {
        var data = body && body.data;
        var ids = data && data.valid === true ? data.identifiers : null;
        var who = ids && (ids['data-email'] || ids['data-user-id']);
        if (typeof who !== 'string' || !who) throw new Error('no identity');
        status.textContent = 'Signed in as ' + who;
      })
      .catch(fail);
  }

  Object.keys(TYPES).forEach(function (name) {
    var type = TYPES[name];
    // A page that loads the SDK twice must not throw on the second define().
    if (customElements.get(name)) return;
    customElements.define(
      name,
      class extends HTMLElement {
        connectedCallback() {
          if (this.raiStarted) return;
          this.raiStarted = true;
          start(this, type);
        }
      }
    );
  });
})();
`
}

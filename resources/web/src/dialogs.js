// The token dialog and the banner: what the page tells the user when something needs them.
import { $ } from './dom.js';
import { dbg } from './debug.js';
import { AuthError, hasToken, setToken, forgetToken, stopStreams } from './connection.js';

// What the token dialog does once a token is entered (set by main.js: start again).
let tokenEntered = () => {};
export function onTokenEntered(fn) { tokenEntered = fn; }

let authShown = false;
// The server wants a token (code: its error code): every stream stops and the dialog asks for one.
export function needAuth(code) {
    stopStreams();
    const conn = $('conn');
    conn.dataset.state = 'auth';
    conn.textContent = 'token needed';
    dbg.state = 'auth';
    const wrong = code === 'AUTH_FAILED' || (hasToken() && code !== 'AUTH_REQUIRED');
    const msg = $('auth-message');
    msg.textContent = wrong ? 'The token was not accepted. Check it and enter it again.'
                            : 'This Runwatch server needs a token to show runs.';
    msg.classList.toggle('wrong', wrong);
    $('token-button').hidden = false;
    if (wrong) forgetToken();
    if (!authShown) {
        authShown = true;
        const dlg = $('auth-dialog');
        if (!dlg.open) dlg.showModal();
        $('auth-token').value = '';
        $('auth-token').focus();
    }
}
$('auth-form').addEventListener('submit', () => {
    setToken($('auth-token').value.trim());
    authShown = false;
    tokenEntered();
});
$('auth-dialog').addEventListener('cancel', (e) => e.preventDefault());
$('token-button').addEventListener('click', () => {
    authShown = true;
    $('auth-message').textContent = 'Enter the token for this server.';
    $('auth-message').classList.remove('wrong');
    $('auth-token').value = '';
    $('auth-dialog').showModal();
});
export function showBanner(text) {
    const b = $('banner');
    b.hidden = !text;
    b.textContent = text || '';
}
// An error for the user: a token needed, or a banner saying what could not be done.
export function failed(e, what) {
    if (e instanceof AuthError) { needAuth(e.code); return; }
    showBanner(`${what}: ${e.message}`);
    console.warn(what, e);
}

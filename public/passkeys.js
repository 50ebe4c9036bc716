// Passkeys in the browser, with SimpleWebAuthn's browser build (the global SimpleWebAuthnBrowser,
// served from our own origin). The pages work without this file: passwords stay usable, and the
// passkey buttons stay hidden.
// - <form id="passkey-sign-in" data-options=URL>: sign in with a passkey, by its button or, where
//   the browser supports it, from the email field's autofill list (conditional UI).
// - <form id="passkey-register" data-options=URL data-reconfirm=URL>: create a passkey for the
//   signed-in account; a session that is not fresh is sent to re-confirm first.
// Options come from a POST carrying the form's CSRF token; the browser's answer is put in the form's
// `response` field and the form is submitted, so the server answers with an ordinary page.
(() => {
  const lib = window.SimpleWebAuthnBrowser;
  const signIn = document.getElementById('passkey-sign-in');
  const register = document.getElementById('passkey-register');
  if (!lib?.browserSupportsWebAuthn()) return;

  function status(form, message) {
    const box = form.querySelector('[data-passkey-status]');
    if (!box) return;
    box.textContent = message || '';
    box.hidden = !message;
  }

  // Resolves with the options, or with null after sending the browser elsewhere (re-confirmation).
  function fetchOptions(form) {
    return fetch(form.getAttribute('data-options'), {
      method: 'POST',
      headers: { 'X-CSRF-Token': form.elements._csrf.value, Accept: 'application/json' },
      credentials: 'same-origin',
      redirect: 'manual',
    }).then((res) => {
      if (res.type === 'opaqueredirect' && form.getAttribute('data-reconfirm')) {
        window.location.assign(form.getAttribute('data-reconfirm'));
        return null;
      }
      return res.json().then(
        (body) => {
          if (!res.ok) throw new Error(body.message || 'Passkeys are not available right now. Reload and try again.');
          return body;
        },
        () => {
          throw new Error('Passkeys are not available right now. Reload the page and try again.');
        },
      );
    });
  }

  function send(form, answer) {
    form.elements.response.value = JSON.stringify(answer);
    form.submit();
  }

  // Cancelled, timed out, or no passkey chosen: the browser says NotAllowedError.
  function explain(err, cancelled) {
    if (err && err.name === 'NotAllowedError') return cancelled;
    if (err && err.name === 'InvalidStateError') return 'This device already has a passkey for your account.';
    return err?.message || 'The passkey did not work. Try again.';
  }

  if (signIn) {
    const start = signIn.querySelector('[data-passkey-start]');
    signIn.hidden = false;
    // One challenge for this page: the autofill request and the button share it (the button's
    // request replaces the autofill one, which the library aborts).
    const options = fetchOptions(signIn);
    options
      .then((optionsJSON) =>
        lib.browserSupportsWebAuthnAutofill().then((autofill) => {
          if (!autofill || !optionsJSON) return;
          return lib.startAuthentication({ optionsJSON: optionsJSON, useBrowserAutofill: true }).then(
            (answer) => send(signIn, answer),
            () => {},
          );
        }),
      )
      .catch((err) => status(signIn, explain(err, '')));
    start.addEventListener('click', () => {
      status(signIn, '');
      options
        .then((optionsJSON) => lib.startAuthentication({ optionsJSON: optionsJSON }))
        .then((answer) => send(signIn, answer))
        .catch((err) => {
          if (err && err.name === 'AbortError') return;
          status(signIn, explain(err, 'No passkey was used. Try again, or sign in with your password.'));
        });
    });
  }

  if (register) {
    const add = register.querySelector('[data-passkey-start]');
    const unsupported = register.querySelector('[data-passkey-unsupported]');
    add.hidden = false;
    if (unsupported) unsupported.hidden = true;
    add.addEventListener('click', () => {
      status(register, '');
      const name = register.elements.namedItem('name');
      if (!name.value.trim()) {
        status(register, 'Give the passkey a name first, such as "Work laptop".');
        name.focus();
        return;
      }
      add.disabled = true;
      fetchOptions(register)
        .then((optionsJSON) => {
          if (!optionsJSON) return;
          return lib.startRegistration({ optionsJSON: optionsJSON }).then((answer) => send(register, answer));
        })
        .catch((err) => status(register, explain(err, 'No passkey was created. Try again when you are ready.')))
        .finally(() => {
          add.disabled = false;
        });
    });
  }
})();

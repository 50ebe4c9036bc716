// Small progressive enhancements for the dashboard. The pages work without this file.
// - Copy buttons: <button data-copy-target="ID" hidden> copies the value (or text) of #ID. They start
//   hidden and are shown here, so a browser without scripting never sees a button that does nothing.
// - <input data-select-on-focus>: selects the whole value on focus, for copying by hand.
// - <input data-selects="ID">: typing into it checks the radio button #ID (the "On a date" expiry).
(() => {
  function copyText(target) {
    var text = 'value' in target ? target.value : target.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        () => true,
        () => fallback(target),
      );
    }
    return Promise.resolve(fallback(target));
  }

  function fallback(target) {
    try {
      target.focus();
      if (target.select) target.select();
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }

  document.querySelectorAll('button[data-copy-target]').forEach((button) => {
    var target = document.getElementById(button.getAttribute('data-copy-target'));
    if (!target) return;
    var box = button.closest('.secret-box');
    var status = box ? box.querySelector('.copy-status') : null;
    var label = button.textContent;
    var timer;
    button.hidden = false;
    button.addEventListener('click', () => {
      copyText(target).then((ok) => {
        button.textContent = ok ? 'Copied' : label;
        button.classList.toggle('copied', ok);
        if (status)
          status.textContent = ok
            ? 'Copied to the clipboard.'
            : 'Press Ctrl+C (⌘C on a Mac) to copy the selected text.';
        if (!ok && target.select) target.select();
        clearTimeout(timer);
        timer = setTimeout(() => {
          button.textContent = label;
          button.classList.remove('copied');
        }, 2500);
      });
    });
  });

  document.querySelectorAll('input[data-select-on-focus]').forEach((input) => {
    input.addEventListener('focus', () => {
      input.select();
    });
  });

  document.querySelectorAll('input[data-selects]').forEach((input) => {
    var radio = document.getElementById(input.getAttribute('data-selects'));
    if (!radio) return;
    var check = () => {
      if (input.value) radio.checked = true;
    };
    input.addEventListener('input', check);
    input.addEventListener('change', check);
  });
})();

// Small progressive enhancements for the dashboard. The pages work without this file.
// - Copy buttons: <button data-copy-target="ID" hidden> copies the value (or text) of #ID. They start
//   hidden and are shown here, so a browser without scripting never sees a button that does nothing.
// - <input data-select-on-focus>: selects the whole value on focus, for copying by hand.
// - <input data-selects="ID">: typing into it checks the radio button #ID (the "On a date" expiry).
// - A copy target with data-copy-lines (a list) copies its items' text, one a line.
// - <button data-print hidden>: shown here, prints the page (the print stylesheet keeps what matters).
// - <input type="checkbox" data-enables="ID">: button #ID is disabled until the box is ticked (the
//   box is also `required`, so without this script the form still asks for it).
(() => {
  function textOf(target) {
    if (target.hasAttribute('data-copy-lines'))
      return `${Array.from(target.children, (item) => item.textContent.trim()).join('\n')}\n`;
    return 'value' in target ? target.value : target.textContent;
  }

  function copyText(target) {
    var text = textOf(target);
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
      else window.getSelection().selectAllChildren(target);
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

  document.querySelectorAll('button[data-print]').forEach((button) => {
    button.hidden = false;
    button.addEventListener('click', () => window.print());
  });

  document.querySelectorAll('input[type="checkbox"][data-enables]').forEach((box) => {
    var button = document.getElementById(box.getAttribute('data-enables'));
    if (!button) return;
    var sync = () => {
      button.disabled = !box.checked;
    };
    sync();
    box.addEventListener('change', sync);
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

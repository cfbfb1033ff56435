// The seller's console: sends each form marked `data-api` to the admin API as JSON with the
// session's CSRF token, shows validation errors beside their fields, asks before an action
// the API wants confirmed, and uploads files (the file as the body) with a progress bar. Served by the binary; no
// library, no CDN.
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';

  function clearErrors(form) {
    form.querySelectorAll('[data-error-for], .form-error').forEach(function (el) { el.textContent = ''; });
  }

  function showErrors(form, body, status) {
    var general = form.querySelector('.form-error');
    var placed = false;
    if (body && body.errors) {
      Object.keys(body.errors).forEach(function (field) {
        var el = form.querySelector('[data-error-for="' + field + '"]');
        if (el) { el.textContent = body.errors[field].join(' '); placed = true; }
      });
    }
    if (general && !placed) {
      general.textContent = (body && body.msg) ? body.msg : ('HTTP ' + status);
    }
  }

  // The form's named fields as JSON: checkboxes as booleans, `data-type="int"` as numbers,
  // empty fields marked `data-optional` left out.
  function formJson(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === 'file' || el.type === 'submit') { return; }
      if (el.type === 'checkbox') { out[el.name] = el.checked; return; }
      var v = el.value;
      if (v === '' && el.hasAttribute('data-optional')) { return; }
      if (el.getAttribute('data-type') === 'int') { out[el.name] = v === '' ? null : Number(v); return; }
      out[el.name] = v;
    });
    return out;
  }

  function request(method, url, body, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.setRequestHeader('Accept', 'application/json');
      var raw = body instanceof Blob;
      xhr.setRequestHeader('Content-Type', raw ? 'application/octet-stream' : 'application/json');
      if (onProgress && xhr.upload) {
        xhr.upload.onprogress = function (e) { if (e.lengthComputable) { onProgress(e.loaded, e.total); } };
      }
      xhr.onload = function () {
        var parsed = null;
        try { parsed = JSON.parse(xhr.responseText); } catch (e) { parsed = null; }
        resolve({ status: xhr.status, body: parsed });
      };
      xhr.onerror = function () { resolve({ status: 0, body: { msg: 'network error' } }); };
      xhr.send(raw ? body : JSON.stringify(body));
    });
  }

  function submit(form, extra) {
    clearErrors(form);
    var payload;
    var url = form.getAttribute('data-api');
    var bar = form.querySelector('progress');
    var file = form.querySelector('input[type=file]');
    if (file) {
      // An upload: the file is the body; the other fields and its name go in the query.
      if (!file.files.length) { showErrors(form, { msg: form.getAttribute('data-nofile') || '?' }, 400); return; }
      var chosen = file.files[0];
      var params = new URLSearchParams();
      params.set('filename', chosen.name);
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.type !== 'file' && el.type !== 'submit' && el.value !== '') { params.set(el.name, el.value); }
      });
      url = url + (url.indexOf('?') < 0 ? '?' : '&') + params.toString();
      payload = chosen;
    } else {
      payload = formJson(form);
      Object.keys(extra || {}).forEach(function (k) { payload[k] = extra[k]; });
    }
    var button = form.querySelector('button[type=submit]');
    if (button) { button.disabled = true; }
    if (bar) { bar.value = 0; bar.hidden = false; }
    request(form.getAttribute('data-method') || 'POST', url, payload,
      bar ? function (done, total) { bar.max = total; bar.value = done; } : null)
      .then(function (res) {
        if (button) { button.disabled = false; }
        var result = res.body && res.body.result;
        if (res.status >= 200 && res.status < 300 && result && result.needs_confirmation) {
          if (window.confirm(result.confirmation)) { submit(form, { confirm: true }); }
          return;
        }
        if (res.status >= 200 && res.status < 300) {
          var next = form.getAttribute('data-next');
          if (next && result && result.id !== undefined) { next = next.replace('{id}', result.id); }
          if (next) { window.location.assign(next); } else { window.location.reload(); }
          return;
        }
        if (res.status === 401) { window.location.assign('/admin/login/'); return; }
        showErrors(form, res.body, res.status);
      });
  }

  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form.hasAttribute('data-api')) { return; }
    ev.preventDefault();
    submit(form, {});
  });
}());

/* credflow: resumable uploads for every form.evidence-upload (progressive enhancement).
 *
 * Without this script the form posts its file as usual (fine for small files). With it, a chosen
 * file is checked against the form's data-max-bytes and data-accept first, then sent in resumable
 * pieces: by the tus protocol (tus-js-client, /static/vendor/tus.min.js) when credflow keeps the
 * files, or in S3 multipart parts straight to the bucket when the store is S3 (GET
 * /uploads/resumable says which). A dropped connection resumes where it stopped; so does a closed
 * tab, once the same file is chosen again (tus-js-client's fingerprints, or the S3 token kept in
 * localStorage). When the file has arrived, the form's hidden upload_id is set, the file input
 * cleared, and the form submitted.
 */
(function () {
  "use strict";

  var RESUME_KEY = "credflow-upload:";
  var RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000];
  var S3_WORKERS = 3;
  var configPromise = null;

  function config() {
    if (!configPromise) {
      configPromise = fetch("/uploads/resumable", { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) { throw new Error(r.status === 401 ? "Your session ended: sign in again, then choose the file again." : "Uploads are not available now (" + r.status + ")."); }
        return r.json();
      });
      configPromise.catch(function () { configPromise = null; });
    }
    return configPromise;
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var err = new Error((data && typeof data.detail === "string") ? data.detail : "The server answered " + r.status + ".");
          err.status = r.status;
          throw err;
        }
        return data;
      });
    });
  }

  function humanSize(bytes) {
    var units = ["bytes", "KB", "MB", "GB", "TB"];
    var value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit === 0 ? value + " bytes" : value.toFixed(value < 10 ? 1 : 0) + " " + units[unit];
  }

  function humanTime(seconds) {
    if (!isFinite(seconds) || seconds < 0) { return "working out the time left"; }
    if (seconds < 60) { return "less than a minute left"; }
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) { return "about " + minutes + (minutes === 1 ? " minute" : " minutes") + " left"; }
    var hours = Math.floor(minutes / 60), rest = minutes % 60;
    return "about " + hours + (hours === 1 ? " hour" : " hours") + (rest ? " " + rest + " min" : "") + " left";
  }

  function extensionOf(name) {
    var dot = name.lastIndexOf(".");
    return dot > 0 ? name.slice(dot).toLowerCase() : "";
  }

  /* The problem with a file, in a teacher's words, or "" when the browser sees none. */
  function problemWith(file, form) {
    var max = parseInt(form.getAttribute("data-max-bytes") || "0", 10);
    var accept = (form.getAttribute("data-accept") || "").split(",").map(function (s) { return s.trim().toLowerCase(); }).filter(Boolean);
    if (file.size === 0) { return file.name + " is empty (0 bytes): choose the file again."; }
    if (max && file.size > max) { return file.name + " is " + humanSize(file.size) + ", over the " + humanSize(max) + " limit for this requirement."; }
    if (accept.length && accept.indexOf(extensionOf(file.name)) < 0) {
      return file.name + " is not a file this requirement accepts: choose a file ending in " + accept.join(", ") + ".";
    }
    return "";
  }

  /* The progress bar, its words, and the pause button, added after the form's file input. */
  function Panel(form, input) {
    var id = (input.id || "file") + "-upload";
    this.form = form;
    this.input = input;
    this.root = document.createElement("div");
    this.root.className = "upload-panel";
    this.root.hidden = true;
    this.root.innerHTML =
      '<label class="upload-label" for="' + id + '-bar">Upload progress</label>' +
      '<progress id="' + id + '-bar" max="100" value="0"></progress>' +
      '<p class="upload-detail" id="' + id + '-detail"></p>' +
      '<p class="visually-hidden" aria-live="polite" id="' + id + '-live"></p>' +
      '<button type="button" class="secondary upload-pause" aria-controls="' + id + '-bar">Pause upload</button>';
    this.problem = document.createElement("p");
    this.problem.className = "problem upload-problem";
    this.problem.id = id + "-problem";
    this.problem.setAttribute("role", "alert");
    this.problem.hidden = true;
    input.parentNode.insertBefore(this.problem, input.nextSibling);
    input.parentNode.insertBefore(this.root, this.problem.nextSibling);
    this.bar = this.root.querySelector("progress");
    this.detail = this.root.querySelector(".upload-detail");
    this.live = this.root.querySelector("[aria-live]");
    this.pauseButton = this.root.querySelector(".upload-pause");
    this.lastSpoken = -1;
    this.samples = [];
  }

  Panel.prototype.showProblem = function (text) {
    this.problem.textContent = text;
    this.problem.hidden = !text;
    if (text) {
      this.input.setAttribute("aria-describedby", this.problem.id);
      this.input.setAttribute("aria-invalid", "true");
    } else {
      this.input.removeAttribute("aria-invalid");
    }
  };

  Panel.prototype.say = function (text) {
    this.live.textContent = text;
  };

  Panel.prototype.start = function (file) {
    this.root.hidden = false;
    this.file = file;
    this.samples = [];
    this.lastSpoken = -1;
    this.bar.value = 0;
    this.detail.textContent = "Starting the upload of " + file.name + " (" + humanSize(file.size) + ")…";
    this.say("Uploading " + file.name + ".");
  };

  Panel.prototype.progress = function (sent, total) {
    var now = Date.now();
    this.samples.push([now, sent]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 15000) { this.samples.shift(); }
    var first = this.samples[0];
    var rate = now > first[0] ? (sent - first[1]) / ((now - first[0]) / 1000) : 0;
    var percent = total ? Math.floor((sent / total) * 100) : 0;
    this.bar.value = percent;
    this.bar.setAttribute("aria-valuetext", percent + "%");
    var left = rate > 0 ? humanTime((total - sent) / rate) : "working out the time left";
    this.detail.textContent = percent + "% — " + humanSize(sent) + " of " + humanSize(total) + " — " + left;
    var step = Math.floor(percent / 10);
    if (step !== this.lastSpoken) {
      this.lastSpoken = step;
      this.say(percent + "% uploaded, " + left + ".");
    }
  };

  Panel.prototype.state = function (text) {
    this.detail.textContent = text;
    this.say(text);
  };

  /* One file's upload through the tus protocol (the local store). */
  function TusTransfer(file, form, panel, cfg) {
    var self = this;
    var credential = form.getAttribute("data-credential") || "";
    var requirement = form.getAttribute("data-requirement") || "";
    this.onDone = null;
    this.onFail = null;
    this.upload = new window.tus.Upload(file, {
      endpoint: cfg.tus_endpoint,
      chunkSize: cfg.chunk_bytes,
      retryDelays: RETRY_DELAYS,
      removeFingerprintOnSuccess: true,
      metadata: { filename: file.name, filetype: file.type || "", credential: credential, requirement: requirement },
      fingerprint: function (f) {
        return Promise.resolve(["credflow-tus", credential, requirement, f.name, f.size, f.lastModified].join("/"));
      },
      onProgress: function (sent, total) { panel.progress(sent, total); },
      onError: function (error) { self.failed(error); },
      onSuccess: function () {
        panel.state("All of " + file.name + " arrived; checking it…");
        postJSON(self.upload.url + "/complete", {}).then(function (done) { self.onDone(done); }, function (err) { self.onFail(err.message); });
      }
    });
  }

  TusTransfer.prototype.begin = function () {
    var upload = this.upload;
    return upload.findPreviousUploads().then(function (previous) {
      if (previous.length) { upload.resumeFromPreviousUpload(previous[0]); }
      upload.start();
    });
  };

  TusTransfer.prototype.pause = function () { return this.upload.abort(); };
  TusTransfer.prototype.resume = function () { this.upload.start(); };

  TusTransfer.prototype.failed = function (error) {
    var response = error && error.originalResponse;
    var status = response ? response.getStatus() : 0;
    if (!status && !navigator.onLine) { this.onOffline(); return; }
    var text = "The upload stopped.";
    if (response) {
      try { text = JSON.parse(response.getBody()).detail || text; } catch (e) { text = response.getBody() || text; }
    } else if (error && error.message) {
      text = "The connection failed; resume when it is back.";
    }
    if (status === 401) { text = "Your session ended: sign in again, then choose the file again to resume."; }
    this.onFail(text, !status || status >= 500);
  };

  /* One file's upload in S3 multipart parts, straight to the bucket. */
  function S3Transfer(file, form, panel) {
    this.file = file;
    this.panel = panel;
    this.credential = form.getAttribute("data-credential") || "";
    this.requirement = form.getAttribute("data-requirement") || "";
    this.storageKey = RESUME_KEY + ["s3", this.credential, this.requirement, file.name, file.size, file.lastModified].join("/");
    this.paused = false;
    this.requests = [];
    this.onDone = null;
    this.onFail = null;
  }

  S3Transfer.prototype.begin = function () {
    var self = this;
    var saved = null;
    try { saved = JSON.parse(window.localStorage.getItem(this.storageKey) || "null"); } catch (e) { saved = null; }
    var ready = saved && saved.token ? postJSON("/uploads/s3/status", { token: saved.token }).then(function (status) {
      self.token = saved.token;
      return status;
    }, function (err) {
      if (err.status === 404 || err.status === 410) { window.localStorage.removeItem(self.storageKey); return self.create(); }
      throw err;
    }) : this.create();
    return ready.then(function (status) { self.run(status); }, function (err) { self.onFail(err.message); });
  };

  S3Transfer.prototype.create = function () {
    var self = this;
    return postJSON("/uploads/s3", {
      credential_id: this.credential,
      requirement_key: this.requirement,
      filename: this.file.name,
      size: this.file.size,
      content_type: this.file.type || ""
    }).then(function (started) {
      self.token = started.token;
      try { window.localStorage.setItem(self.storageKey, JSON.stringify({ token: started.token })); } catch (e) { /* private mode: no resume after closing */ }
      return { part_bytes: started.part_bytes, parts: started.parts, uploaded: [] };
    });
  };

  S3Transfer.prototype.run = function (status) {
    var self = this;
    this.partBytes = status.part_bytes;
    this.parts = status.parts;
    this.done = {};
    this.inFlight = {};
    this.sentDone = 0;
    status.uploaded.forEach(function (p) { self.done[p.number] = true; self.sentDone += p.size; });
    this.queue = [];
    for (var n = 1; n <= this.parts; n += 1) { if (!this.done[n]) { this.queue.push(n); } }
    this.report();
    if (!this.queue.length) { this.finish(); return; }
    for (var w = 0; w < S3_WORKERS; w += 1) { this.next(); }
  };

  S3Transfer.prototype.report = function () {
    var partial = 0, self = this;
    Object.keys(this.inFlight).forEach(function (n) { partial += self.inFlight[n]; });
    this.panel.progress(this.sentDone + partial, this.file.size);
  };

  S3Transfer.prototype.next = function () {
    if (this.paused || this.failedOnce) { return; }
    var number = this.queue.shift();
    if (number === undefined) {
      if (!Object.keys(this.inFlight).length && !this.finishing) { this.finish(); }
      return;
    }
    this.sendPart(number, 0);
  };

  S3Transfer.prototype.sendPart = function (number, attempt) {
    var self = this;
    this.inFlight[number] = 0;
    postJSON("/uploads/s3/parts", { token: this.token, numbers: [number] }).then(function (signed) {
      if (self.paused) { delete self.inFlight[number]; self.queue.unshift(number); return; }
      var start = (number - 1) * self.partBytes;
      var blob = self.file.slice(start, Math.min(start + self.partBytes, self.file.size));
      var xhr = new XMLHttpRequest();
      self.requests.push(xhr);
      xhr.open("PUT", signed.urls[number]);
      xhr.upload.onprogress = function (ev) { self.inFlight[number] = ev.loaded; self.report(); };
      xhr.onload = function () {
        self.requests = self.requests.filter(function (r) { return r !== xhr; });
        delete self.inFlight[number];
        if (xhr.status >= 200 && xhr.status < 300) {
          self.done[number] = true;
          self.sentDone += blob.size;
          self.report();
          self.next();
        } else {
          self.retry(number, attempt, "The storage refused part " + number + " (" + xhr.status + ").");
        }
      };
      xhr.onerror = function () {
        self.requests = self.requests.filter(function (r) { return r !== xhr; });
        delete self.inFlight[number];
        self.retry(number, attempt, "The connection failed.");
      };
      xhr.onabort = function () { delete self.inFlight[number]; };
      xhr.send(blob);
    }, function (err) {
      delete self.inFlight[number];
      if (err.status) { self.fail(err.message); } else { self.retry(number, attempt, err.message); }
    });
  };

  S3Transfer.prototype.retry = function (number, attempt, reason) {
    var self = this;
    if (this.paused) { this.queue.unshift(number); return; }
    if (!navigator.onLine) { this.queue.unshift(number); this.pauseForNetwork(); return; }
    if (attempt + 1 >= RETRY_DELAYS.length) { this.queue.unshift(number); this.fail(reason + " Resume when the connection is back.", true); return; }
    setTimeout(function () { if (self.paused) { self.queue.unshift(number); } else { self.sendPart(number, attempt + 1); } }, RETRY_DELAYS[attempt + 1]);
  };

  S3Transfer.prototype.pauseForNetwork = function () {
    if (this.paused) { return; }
    this.pause();
    this.onOffline();
  };

  S3Transfer.prototype.fail = function (text, resumable) {
    if (this.failedOnce) { return; }
    this.failedOnce = true;
    this.pause();
    this.onFail(text, resumable);
  };

  S3Transfer.prototype.finish = function () {
    var self = this;
    this.finishing = true;
    this.panel.state("All of " + this.file.name + " arrived; checking it…");
    postJSON("/uploads/s3/complete", { token: this.token }).then(function (done) {
      try { window.localStorage.removeItem(self.storageKey); } catch (e) { /* nothing kept */ }
      self.onDone(done);
    }, function (err) { self.finishing = false; self.onFail(err.message, err.status === 409); });
  };

  S3Transfer.prototype.pause = function () {
    this.paused = true;
    var requests = this.requests;
    this.requests = [];
    requests.forEach(function (xhr) { xhr.abort(); });
    var self = this;
    Object.keys(this.inFlight).forEach(function (n) { self.queue.unshift(parseInt(n, 10)); });
    this.inFlight = {};
    this.queue.sort(function (a, b) { return a - b; });
  };

  S3Transfer.prototype.resume = function () {
    var self = this;
    this.paused = false;
    this.failedOnce = false;
    this.finishing = false;
    postJSON("/uploads/s3/status", { token: this.token }).then(function (status) { self.run(status); }, function (err) { self.onFail(err.message); });
  };

  function enhance(form) {
    var input = form.querySelector('input[type="file"]');
    var hidden = form.querySelector('input[name="upload_id"]');
    var submit = form.querySelector('button[type="submit"], input[type="submit"]');
    if (!input || !hidden || form.getAttribute("data-upload-ready")) { return; }
    form.setAttribute("data-upload-ready", "1");
    var panel = new Panel(form, input);
    var transfer = null;
    var paused = false;

    function setPaused(value) {
      paused = value;
      panel.pauseButton.textContent = value ? "Resume upload" : "Pause upload";
    }

    function whenOnline() {
      window.removeEventListener("online", whenOnline);
      if (transfer && paused) {
        setPaused(false);
        panel.state("Back online: resuming the upload…");
        transfer.resume();
      }
    }

    panel.pauseButton.addEventListener("click", function () {
      if (!transfer) { return; }
      if (paused) {
        setPaused(false);
        panel.state("Resuming the upload…");
        transfer.resume();
      } else {
        setPaused(true);
        transfer.pause();
        panel.state("Paused. Choose Resume upload to go on; what arrived is kept.");
      }
    });

    input.addEventListener("change", function () { panel.showProblem(""); });

    form.addEventListener("submit", function (event) {
      if (hidden.value) { return; } // the upload is done: this is the real submission
      var file = input.files && input.files[0];
      if (!file) { return; } // nothing chosen: the server says what is missing
      event.preventDefault();
      if (transfer) { return; } // one upload at a time per form
      var problem = problemWith(file, form);
      panel.showProblem(problem);
      if (problem) { input.focus(); return; }
      if (submit) { submit.disabled = true; }
      panel.start(file);
      config().then(function (cfg) {
        if (cfg.protocol === "s3") {
          transfer = new S3Transfer(file, form, panel);
        } else {
          if (!window.tus || !window.tus.isSupported) { throw new Error("This browser cannot send large files in pieces: update it, or use another."); }
          transfer = new TusTransfer(file, form, panel, cfg);
        }
        transfer.onDone = function (done) {
          panel.bar.value = 100;
          panel.state(done.filename + " arrived (" + humanSize(done.size) + "). Saving…");
          hidden.value = done.upload_id;
          input.value = "";
          form.submit();
        };
        transfer.onFail = function (text, resumable) {
          panel.showProblem(text);
          if (resumable) {
            setPaused(true);
            panel.state("The upload stopped. Choose Resume upload to go on from where it stopped.");
          } else {
            panel.state("The upload stopped.");
            panel.pauseButton.hidden = true;
            transfer = null;
            if (submit) { submit.disabled = false; }
          }
        };
        transfer.onOffline = function () {
          setPaused(true);
          panel.state("The connection is lost. The upload goes on by itself when you are back online; what arrived is kept.");
          window.addEventListener("online", whenOnline);
        };
        return transfer.begin();
      }).catch(function (err) {
        panel.showProblem(err.message);
        panel.state("The upload could not start.");
        transfer = null;
        if (submit) { submit.disabled = false; }
      });
    });
  }

  function enhanceAll() {
    Array.prototype.forEach.call(document.querySelectorAll("form.evidence-upload"), enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhanceAll);
  } else {
    enhanceAll();
  }
})();

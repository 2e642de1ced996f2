/* Progressive enhancement only: every page works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // A second click on a submit button would post the form twice; the server
  // refuses the duplicate anyway, this just spares the user the message.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.dataset.submitted === "true") {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "true";
    var buttons = form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]');
    buttons.forEach(function (button) {
      button.setAttribute("aria-disabled", "true");
      button.classList.add("is-submitting");
      // Disabled after this tick, so the clicked button's name/value is still sent.
      window.setTimeout(function () { button.disabled = true; }, 0);
    });
  });

  // Sign-up guesses the new user's time zone from the browser (the profile changes it).
  document.querySelectorAll("input[data-guess-zone]").forEach(function (input) {
    if (input.value) return;
    try {
      input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) { /* an old browser: the account starts in UTC */ }
  });

  // Live pages (the order page): every few seconds ask whether anything changed; the
  // server answers 304 from an ETag when nothing did. When something did, the parts
  // marked data-live-region are replaced in place; a part the user is typing in or
  // has focus in waits for the next round. Without this script, a reload shows the same.
  var live = document.querySelector("[data-live-url]");
  if (live && window.fetch && window.DOMParser) {
    var liveUrl = live.getAttribute("data-live-url");
    var etag = live.getAttribute("data-live-etag") || "";
    var period = parseInt(live.getAttribute("data-live-period") || "5000", 10);
    var busy = false;
    var poll = function () {
      if (busy || document.hidden) return;
      busy = true;
      var headers = etag ? { "If-None-Match": etag } : {};
      fetch(liveUrl, { headers: headers, cache: "no-store", credentials: "same-origin" })
        .then(function (response) {
          if (response.status !== 200) return null;
          var next = response.headers.get("ETag");
          return response.text().then(function (html) { return { html: html, etag: next }; });
        })
        .then(function (fresh) {
          if (!fresh) return;
          var doc = new DOMParser().parseFromString(fresh.html, "text/html");
          var waiting = false;
          doc.querySelectorAll("[data-live-region][id]").forEach(function (incoming) {
            var current = document.getElementById(incoming.id);
            if (!current) return;
            if (current.contains(document.activeElement) && document.activeElement !== document.body) {
              waiting = true;
              return;
            }
            current.replaceWith(document.importNode(incoming, true));
          });
          if (!waiting && fresh.etag) etag = fresh.etag;
        })
        .catch(function () { /* offline for a moment: the next round tries again */ })
        .then(function () { busy = false; });
    };
    window.setInterval(poll, period);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
  }

  // Coming back with the browser's Back button restores the page from cache:
  // re-enable its forms.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submitted]").forEach(function (form) {
      delete form.dataset.submitted;
      form.querySelectorAll("[aria-disabled]").forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("aria-disabled");
        button.classList.remove("is-submitting");
      });
    });
  });

  // Receipts: <button type="button" data-print> prints the page (no inline script under the CSP).
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (target) window.print();
  });

  // Narrow screens: collapse the main navigation behind a Menu button.
  function setUpMenu() {
    var nav = document.getElementById("site-nav");
    var row = nav && nav.parentElement;
    if (!nav || !row) return;
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "btn btn-secondary btn-small nav-toggle";
    toggle.setAttribute("aria-controls", "site-nav");
    toggle.setAttribute("aria-expanded", "false");
    toggle.textContent = "Menu";
    var unread = nav.querySelector(".count");
    if (unread) {
      var badge = unread.cloneNode(true);
      toggle.appendChild(document.createTextNode(" "));
      toggle.appendChild(badge);
    }
    function setOpen(open) {
      nav.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    toggle.addEventListener("click", function () {
      setOpen(!nav.classList.contains("open"));
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && nav.classList.contains("open")) {
        setOpen(false);
        toggle.focus();
      }
    });
    row.insertBefore(toggle, nav);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpMenu);
  } else {
    setUpMenu();
  }
})();

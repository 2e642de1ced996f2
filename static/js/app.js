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

  // The profile's zone list: the browser's zone first, in a group of its own, and selected while
  // the user has not chosen one (data-zone-chosen="false"). A browser may report an alias
  // ("Asia/Calcutta"): the page lists what each stands for (#zone-aliases). Without this script
  // the list keeps the saved zone selected.
  document.querySelectorAll("select[data-guess-zone]").forEach(function (select) {
    var guess = "";
    try {
      guess = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
      var aliases = document.getElementById("zone-aliases");
      if (aliases) guess = JSON.parse(aliases.textContent)[guess] || guess;
    } catch (error) { return; }
    var match = Array.prototype.find.call(select.options, function (option) { return option.value === guess; });
    if (!match) return;
    var saved = select.value;
    var group = document.createElement("optgroup");
    // The words come from the page, in the reader's language (data-guess-label, rendered by the form).
    group.label = select.dataset.guessLabel || "Your browser's zone";
    var first = document.createElement("option");
    first.value = match.value;
    first.textContent = match.value.replace(/_/g, " ");
    group.appendChild(first);
    select.insertBefore(group, select.firstChild);
    if (select.dataset.zoneChosen === "true") {
      select.value = saved;
    } else {
      first.selected = true;
    }
  });

  // Live pages (the order page, the inbox, a conversation) poll with htmx (hx-get,
  // hx-trigger="every 5s"): each request carries the If-None-Match of the part it came
  // from; the server answers 304 when nothing changed, and then nothing is swapped. A
  // changed part is swapped in place, unless the user has focus in a live part: then it
  // waits for the next round. Hidden tabs do not poll. Without JavaScript, a reload.
  document.addEventListener("htmx:configRequest", function (event) {
    if (document.hidden) {
      event.preventDefault();
      return;
    }
    var etag = event.detail.elt.getAttribute("data-live-etag");
    if (etag) event.detail.headers["If-None-Match"] = etag;
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status !== 200) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      return;
    }
    var focused = document.activeElement;
    if (!focused || focused === document.body) return;
    var regions = document.querySelectorAll("[data-live-region]");
    for (var i = 0; i < regions.length; i++) {
      if (regions[i].contains(focused)) {
        event.detail.shouldSwap = false;
        return;
      }
    }
  });

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

  // The menu is a <details> laid out by HTML and CSS (templates/base.html); this only adds what a
  // menu is expected to do: Escape closes it (focus back on "Menu"), and so does a click outside.
  function setUpMenu() {
    var menu = document.getElementById("site-menu");
    if (!menu) return;
    var summary = menu.querySelector("summary");
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        if (summary) summary.focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpMenu);
  } else {
    setUpMenu();
  }
})();

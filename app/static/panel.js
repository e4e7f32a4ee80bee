/* The panel's small additions to Flask-AppBuilder's pages:
   - names for the controls FAB's filter script creates without one (the condition
     select and the value field of each filter row), as they appear, and for the
     forms' select2 choices;
   - collapse toggles marked as the buttons they are, and their panels not marked
     expanded (Bootstrap marks both);
   - relation filters (Company, Requested by, ...) as pickers that search the
     server as the user types (app/views/base.py RelatedPicker), so a partner with
     2,000 companies does not get 2,000 options in every list page. */
(function () {
  function label(root) {
    root.querySelectorAll('table.filters tr').forEach(function (row) {
      var name = (row.querySelector('a.remove-filter') || {}).textContent || 'filter';
      name = name.replace('\u00d7', '').trim();
      row.querySelectorAll('select.filter-op').forEach(function (el) {
        el.setAttribute('aria-label', 'Condition for ' + name);
      });
      row.querySelectorAll('.filter_val, td:last-child input, td:last-child select').forEach(function (el) {
        if (!el.getAttribute('aria-label')) el.setAttribute('aria-label', 'Value for ' + name);
      });
    });
    root.querySelectorAll('select.select2-hidden-accessible, .select2-search__field').forEach(function (el) {
      if (!el.getAttribute('aria-label')) el.setAttribute('aria-label', 'Choose');
    });
    // A form's select2 shows its choice in a "textbox" named by nothing while it is
    // empty (Parent, Company on the add forms): its field's label names it.
    root.querySelectorAll('.select2-selection__rendered[role="textbox"]').forEach(function (el) {
      if (el.getAttribute('aria-label')) return;
      var field = (el.id || '').replace(/^select2-/, '').replace(/-container$/, '');
      var caption = field && document.querySelector('label[for="' + field + '"]');
      el.setAttribute('aria-label', caption ? caption.textContent.trim() : 'Chosen value');
    });
  }

  function pickers(root) {
    if (!window.jQuery || !jQuery.fn.select2) return;
    root.querySelectorAll('select.related-picker').forEach(function (el) {
      if (el.dataset.started || !document.body.contains(el)) return;
      el.dataset.started = '1';
      jQuery(el).select2({
        theme: 'bootstrap',
        width: '100%',
        placeholder: 'Type to search',
        ajax: {
          url: el.dataset.endpoint,
          dataType: 'json',
          delay: 200,
          data: function (params) { return { q: params.term || '' }; },
          processResults: function (data) { return { results: data.results }; }
        }
      });
    });
  }

  // A filter added starts on the condition people mean: "is" for a column with a
  // fixed set of values (status, kind: a dropdown), "contains" for text (FAB's
  // first, "starts with", keeps its place in older links: app/views/filters.py).
  document.addEventListener('click', function (event) {
    if (!event.target.closest || !event.target.closest('#filter_form a.filter')) return;
    setTimeout(function () {
      var rows = document.querySelectorAll('#filter_form table.filters tr');
      var row = rows[rows.length - 1];
      if (!row || row.querySelector('select.related-picker')) return;
      var value = row.querySelector('td:last-child select, td:last-child input');
      var op = row.querySelector('select.filter-op');
      if (!value || !op) return;
      var wanted = value.tagName === 'SELECT' ? 'is' : 'contains';
      Array.prototype.forEach.call(op.options, function (option) {
        if (option.textContent.trim() !== wanted) return;
        // FAB names the value field after the condition's position (_flt_<n>_<column>).
        value.name = value.name.replace(/^_flt_\d+_/, '_flt_' + option.value + '_');
        if (window.jQuery) jQuery(op).val(option.value).trigger('change'); else op.value = option.value;
      });
    }, 0);
  });

  // Charts (the dashboard): Chart.js, shipped with the panel (static/vendor), draws
  // each <canvas data-chart> from the JSON beside it; its numbers are in a table too.
  if (window.Chart) {
    var colours = ['#2c6fad', '#6aa84f', '#e69138', '#c0392b'];
    document.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
      var spec = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
      new window.Chart(canvas, {
        type: spec.type,
        data: {
          labels: spec.labels,
          datasets: [{
            label: spec.label,
            data: spec.values,
            backgroundColor: spec.colours ? colours : colours[0]
          }]
        },
        options: {
          animation: false,
          maintainAspectRatio: false,
          plugins: { legend: { display: false } },
          scales: spec.type === 'bar' ? { y: { beginAtZero: true, ticks: { precision: 0 } } } : {}
        }
      });
    });
  }

  // The list rows' delete buttons (views/list_rows.py): FAB's confirmation,
  // then its POST with the CSRF token.
  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('a[data-delete]');
    if (!button || !window.AdminActions) return;
    event.preventDefault();
    new AdminActions().execute_single_delete(
      button.getAttribute('data-delete'), 'Are you sure you want to delete this item?');
  });

  // Collapse toggles are links that act as buttons (Bootstrap marks them
  // aria-expanded, which a link may not carry).
  function toggles(root) {
    root.querySelectorAll('a[data-toggle="collapse"]:not([role])').forEach(function (el) {
      el.setAttribute('role', 'button');
    });
  }

  // An action chosen with no row ticked: say what to tick (FAB says "No row selected").
  var noun = document.querySelector('meta[name="row-noun"]');
  if (noun && typeof window.ab_alert === 'function') {
    var alertWith = window.ab_alert;
    window.ab_alert = function (text) {
      var what = noun.getAttribute('content');
      alertWith(text === 'No row selected' ? 'Select at least one ' + what + ' first.' : text);
    };
  }

  // Renewals: the header's box ticks (or clears) every company on the page.
  document.addEventListener('change', function (event) {
    if (!event.target.classList.contains('renewals-check-all')) { return; }
    document.querySelectorAll('.renewals-check').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });

  function update() {
    pickers(document); label(document); toggles(document);
  }
  update();
  new MutationObserver(update).observe(document.documentElement, { childList: true, subtree: true });

  // Bootstrap 3 also marks the collapsing panel itself aria-expanded; only its
  // toggle may carry that state (the panel is not a widget), so the attribute is
  // never set on a panel.
  if (window.jQuery) {
    var attr = jQuery.fn.attr;
    jQuery.fn.attr = function (name, value) {
      if (name === 'aria-expanded' && arguments.length > 1) {
        attr.call(this.not('.panel-collapse'), name, value);
        return this;
      }
      return attr.apply(this, arguments);
    };
  }
})();

/* Names for the controls Flask-AppBuilder's filter script creates without one
   (the condition select and the value field of each filter row), as they appear. */
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
  }
  label(document);
  new MutationObserver(function () { label(document); })
    .observe(document.documentElement, { childList: true, subtree: true });
})();

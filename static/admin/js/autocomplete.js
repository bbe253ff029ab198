'use strict';
// The project's copy of Django 5.2's admin/js/autocomplete.js (it takes precedence through
// STATICFILES_DIRS): the search term is POSTed with the page's CSRF token instead of sent as
// ?term= on every keystroke, so no identity number typed by staff reaches a URL or an access log
// (issue 13; accounts.admin_site.PostAutocompleteJsonView answers it).
{
    const $ = django.jQuery;

    function csrfToken() {
        const field = document.querySelector('input[name="csrfmiddlewaretoken"]');
        return field ? field.value : '';
    }

    $.fn.djangoAdminSelect2 = function() {
        $.each(this, function(i, element) {
            // Django's widget writes data-ajax--type="GET", which select2 prefers to options.
            element.setAttribute('data-ajax--type', 'POST');
            $(element).select2({
                ajax: {
                    type: 'POST',
                    headers: {'X-CSRFToken': csrfToken()},
                    data: (params) => {
                        return {
                            term: params.term,
                            page: params.page,
                            app_label: element.dataset.appLabel,
                            model_name: element.dataset.modelName,
                            field_name: element.dataset.fieldName
                        };
                    }
                }
            });
        });
        return this;
    };

    $(function() {
        // Initialize all autocomplete widgets except the one in the template
        // form used when a new formset is added.
        $('.admin-autocomplete').not('[name*=__prefix__]').djangoAdminSelect2();
    });

    document.addEventListener('formset:added', (event) => {
        $(event.target).find('.admin-autocomplete').djangoAdminSelect2();
    });
}

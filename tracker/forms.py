"""Forms of the server-rendered pages."""

from django import forms

from tracker.models import MAX_SEARCH_LENGTH, IncidentStatus, Severity


class IncidentListFilter(forms.Form):
    """The incident list's GET filters. Severities are named as in the API ("high"), not by their numbers."""

    status = forms.ChoiceField(choices=[("", "any status"), *IncidentStatus.choices], required=False)
    severity = forms.ChoiceField(
        choices=[("", "any severity"), *Severity.name_choices()], required=False
    )
    q = forms.CharField(label="Search", max_length=MAX_SEARCH_LENGTH, required=False, strip=True)

    def clean_severity(self) -> int | None:
        name = self.cleaned_data["severity"]
        return Severity.from_name(name) if name else None

    def selector_arguments(self) -> dict:
        """Return the valid filters as keyword arguments of selectors.incidents_listed (call after is_valid)."""
        data = self.cleaned_data
        return {"status": data["status"] or None, "severity": data["severity"], "search": data["q"]}

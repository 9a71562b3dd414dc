"""Forms of the workflows app's pages: time travel's fork form (the checkpoint history)."""

from __future__ import annotations

from django import forms

from .validation import JSONValueField, max_input_bytes


class ForkForm(forms.Form):
    """Fork a thread from a checkpoint with edited state: the state as JSON (an entrypoint's
    input, or a graph's ``{channel: value}`` update). Invalid JSON, or JSON beyond
    ``workflows.validation``'s bounds, is a field error."""

    checkpoint_id = forms.CharField(max_length=36, widget=forms.HiddenInput)
    values = JSONValueField(
        label="Edited state (JSON)",
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "class": "json-input"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["values"].max_bytes = max_input_bytes()  # read at use, not import

"""The officers' web app: worklist, declaration page, outcomes, annotation and rules (``zeikan ui``)."""

"""Council adapters for the partner hub: the Duty to Refer and housing appointments."""

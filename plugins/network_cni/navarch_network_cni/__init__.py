"""Pod networking over the CNI plugins (issue 24): being built."""

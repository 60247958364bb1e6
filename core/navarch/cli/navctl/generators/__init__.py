"""What ``navctl create KIND NAME …`` builds, as kubectl's generators build it: plain
wire dicts, the same object ``kubectl create … --dry-run=client -o json`` prints for
the same flags. One module per group of kinds; none of them talks to the server."""

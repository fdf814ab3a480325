"""What the law asks after a confirmed case: CyberTipline reports to NCMEC and the
evidence vault."""

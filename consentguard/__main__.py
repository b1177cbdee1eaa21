from consentguard.cli import main

main()

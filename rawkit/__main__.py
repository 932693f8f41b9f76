from rawkit.cli import main

main()

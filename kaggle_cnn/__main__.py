from kaggle_cnn.cli import main

main()
